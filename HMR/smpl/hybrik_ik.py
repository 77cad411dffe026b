"""HybrIK's hybrid inverse kinematics (Li et al. 2021; ``hybrik/models/layers/smpl/lbs.py``): 29 joint
positions and 23 twist angles -> the 24 local SMPL rotations.

For every non-leaf joint i with child c (``HYBRIK29_CHILDREN``), in the frame of i's parent chain:
the **swing** turns the rest bone ``s`` (rest c - rest i) onto the target bone ``t`` about ``s x t``
(``cos = s.t / (|s||t| + 1e-8)``, ``sin = |s x t| / (|s||t| + 1e-8)``), the **twist** turns about ``s``
itself by the predicted (cos, sin), and ``R_i = R_swing R_twist``; the chain is ``R_chain[i] =
R_chain[parent] R_i``. The leaves (24-28) get no rotation. Two solvers, as HybrIK has:

* :func:`inverse_kinematics_naive` (HybrIK's training path and ``naive=True``): targets are the
  predicted bones (child - joint), the root turns the rest spine1 bone onto the predicted one and
  then about it to line up the hips' mean (``batch_get_pelvis_orient``); joints solved level by level.
* :func:`inverse_kinematics` (HybrIK's inference path): the root by the best rotation of its three
  bones (``HMR/smpl/kabsch.py``, no SVD); joints in order, each target the predicted child position
  minus joint i where the solved chain has put it; where that target is more than 15 mm from the
  predicted bone rescaled to the template's bone length, the rescaled bone is used instead.

Positions in metres. Shapes: joints (B, 29, 3), twist (B, 23, 2) (normalised here), rest joints
(B, 29, 3) (the shaped template's 24 joints + its leaf vertices ``HYBRIK_LEAF_VERTICES``).
"""
import numpy as np
from mindspore import Tensor, ops

from HMR.constants import HYBRIK29_CHILDREN, HYBRIK29_PARENTS, HYBRIK_PELVIS_CHILDREN, NUM_SMPL_JOINTS
from HMR.geometry import cross
from HMR.smpl.kabsch import best_rotation
from HMR.smpl.lbs import take

IK_EPS = 1e-8                   # HybrIK's guard in every division by a norm
FALLBACK_DISTANCE = 0.015       # m: beyond it the rescaled predicted bone replaces the chain's target
# the joints that can be solved together (parents in earlier levels), as HybrIK's naive solver batches them
NAIVE_LEVELS = ((1, 2, 3), (4, 5, 6), (7, 8, 9), (12, 13, 14), (15, 16, 17), (18, 19, 10), (20, 21, 11), (22, 23))
_CROSS_MATRIX_OF_AXIS = np.array([[0, 0, 0, 0, 0, -1, 0, 1, 0],
                                  [0, 0, 1, 0, 0, 0, -1, 0, 0],
                                  [0, -1, 0, 1, 0, 0, 0, 0, 0]], np.float32)


def _norm(v):
    """|v| (..., 1) over the last axis."""
    return ops.sqrt(ops.sum(v * v, -1, keepdim=True))


def rotation_about(axis, cos, sin):
    """``I + sin K + (1 - cos) K K`` with K the cross-product matrix of ``axis`` (..., 3) (unit, or zero
    for the identity); cos, sin (..., 1). Returns (..., 3, 3)."""
    k = ops.matmul(axis, Tensor(_CROSS_MATRIX_OF_AXIS)).reshape(axis.shape[:-1] + (3, 3))
    eye = Tensor(np.eye(3, dtype=np.float32))
    return eye + sin.expand_dims(-1) * k + (1.0 - cos).expand_dims(-1) * ops.matmul(k, k)


def swing(rest, target):
    """The rotation (..., 3, 3) turning ``rest`` (..., 3) onto ``target``'s direction about their common
    normal (HybrIK's ``vectors2rotmat``; the identity for parallel vectors), with HybrIK's guards:
    ``cos = s.t / (|s||t| + 1e-8)``, ``sin = |s x t| / (|s||t| + 1e-8)``, axis ``s x t / (|s x t| + 1e-8)``.
    They are absolute, so they bend the rotation where the vectors are short or nearly opposite: the naive
    root's hips' mean normal to the spine is ~3 cm on SMPL (1e-5 off; 1e-3 for a root turned nearly half
    round) but under 1 mm on the embedded body, whose hips lie in line with its spine (~1e-2 off: there the
    naive root, used in training and in the HRNet model's scale re-fit, is ill-conditioned; the inference
    root is not). Kept as HybrIK has them, so this model's outputs are HybrIK's."""
    axis = cross(rest, target)
    sin_norm = _norm(axis)
    lengths = _norm(rest) * _norm(target) + IK_EPS
    cos = ops.sum(rest * target, -1, keepdim=True) / lengths
    return rotation_about(axis / (sin_norm + IK_EPS), cos, sin_norm / lengths)


def swing_twist(rest, target, twist):
    """``R_swing(rest -> target) R_twist`` (..., 3, 3): the twist turns about ``rest`` by the unit
    (cos, sin) ``twist`` (..., 2)."""
    spin_axis = rest / (_norm(rest) + IK_EPS)
    return ops.matmul(swing(rest, target), rotation_about(spin_axis, twist[..., 0:1], twist[..., 1:2]))


def unit_twist(twist):
    """HybrIK's ``phis / (|phis| + 1e-8)`` over the last axis of (B, 23, 2)."""
    return twist / (_norm(twist) + IK_EPS)


def bones(points):
    """(B, 29, 3) -> per joint i >= 1 the vector from its parent, joint 0 as is: (B, 29, 3)."""
    parents = [0] + list(HYBRIK29_PARENTS[1:])
    relative = points - take(points, parents)
    return ops.concat([points[:, :1], relative[:, 1:]], 1)


def pelvis_orientation_naive(pose_bones, rest_bones):
    """HybrIK's ``batch_get_pelvis_orient``: spine1's rest bone onto the predicted one, then about the
    predicted spine the rest hips' mean (perpendicular part) onto the predicted hips' mean. (B, 3, 3)."""
    spine, hips = HYBRIK_PELVIS_CHILDREN[0], list(HYBRIK_PELVIS_CHILDREN[1:])
    spine_target, spine_rest = pose_bones[:, spine], rest_bones[:, spine]
    spine_dir = spine_target / (_norm(spine_target) + IK_EPS)
    spine_rotation = swing(spine_rest, spine_target)
    centre_target = ops.mean(take(pose_bones, hips), 1)
    centre_rest = ops.matmul(spine_rotation, ops.mean(take(rest_bones, hips), 1).expand_dims(-1)).squeeze(-1)
    centre_target = centre_target - ops.sum(centre_target * spine_dir, -1, keepdim=True) * spine_dir
    centre_rest = centre_rest - ops.sum(centre_rest * spine_dir, -1, keepdim=True) * spine_dir
    return ops.matmul(swing(centre_rest, centre_target), spine_rotation)


def pelvis_orientation(pose_bones, rest_bones):
    """The root's rotation fitting its three rest bones onto the predicted ones (HybrIK's
    ``batch_get_pelvis_orient_svd``, solved without an SVD). (B, 3, 3)."""
    children = list(HYBRIK_PELVIS_CHILDREN)
    return best_rotation(take(rest_bones, children), take(pose_bones, children))


def inverse_kinematics_naive(joints, twist, rest_joints):
    """HybrIK's naive solver (its training path). Returns local rotations (B, 24, 3, 3). As in HybrIK,
    no gradient reaches ``joints`` (the predicted bones are detached): it flows to twist and shape."""
    pose_bones, rest_bones, twist = ops.stop_gradient(bones(joints)), bones(rest_joints), unit_twist(twist)
    local = [None] * NUM_SMPL_JOINTS
    chain = [None] * NUM_SMPL_JOINTS
    local[0] = chain[0] = pelvis_orientation_naive(pose_bones, rest_bones)
    for level in NAIVE_LEVELS:
        idx = list(level)
        children = [HYBRIK29_CHILDREN[i] for i in idx]
        parent_chain = ops.concat([chain[HYBRIK29_PARENTS[i]].expand_dims(1) for i in idx], 1)   # (B, L, 3, 3)
        target = ops.matmul(ops.swapaxes(parent_chain, -1, -2), take(pose_bones, children).expand_dims(-1)).squeeze(-1)
        rotations = swing_twist(take(rest_bones, children), target, take(twist, [i - 1 for i in idx]))
        for k, i in enumerate(idx):
            local[i] = rotations[:, k]
            chain[i] = ops.matmul(chain[HYBRIK29_PARENTS[i]], local[i])
    return ops.concat([r.expand_dims(1) for r in local], 1)


def inverse_kinematics(joints, twist, rest_joints):
    """HybrIK's inference solver (non-naive). Returns local rotations (B, 24, 3, 3). The predicted bones
    used for the root and the fallback are detached, as in HybrIK."""
    pose_bones, rest_bones, twist = ops.stop_gradient(bones(joints)), bones(rest_joints), unit_twist(twist)
    final = joints - joints[:, :1] + rest_joints[:, :1]           # the prediction, its root on the rest root
    local = [None] * NUM_SMPL_JOINTS
    chain = [None] * NUM_SMPL_JOINTS
    placed = [None] * NUM_SMPL_JOINTS                              # joint i where the solved chain puts it
    local[0] = chain[0] = pelvis_orientation(pose_bones, rest_bones)
    placed[0] = rest_joints[:, 0]
    for i in range(1, NUM_SMPL_JOINTS):
        parent, child = HYBRIK29_PARENTS[i], HYBRIK29_CHILDREN[i]
        placed[i] = placed[parent] + ops.matmul(chain[parent], rest_bones[:, i].expand_dims(-1)).squeeze(-1)
        target = final[:, child] - placed[i]
        rescaled = pose_bones[:, child] * _norm(rest_bones[:, child]) / _norm(pose_bones[:, child])
        target = ops.where(_norm(target - rescaled) > FALLBACK_DISTANCE, rescaled, target)
        target = ops.matmul(ops.swapaxes(chain[parent], -1, -2), target.expand_dims(-1)).squeeze(-1)
        local[i] = swing_twist(rest_bones[:, child], target, twist[:, i - 1])
        chain[i] = ops.matmul(chain[parent], local[i])
    return ops.concat([r.expand_dims(1) for r in local], 1)
