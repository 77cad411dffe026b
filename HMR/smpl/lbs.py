"""Linear blend skinning (the smplx algorithm), written for speed on every backend.

The maths is smplx's ``lbs``; the layout is chosen so that the heavy work is two large
GEMMs and a few contiguous elementwise products instead of many small ones:

1. blend shapes: ``[betas | (R[1:] - I)] (B, 10+207) @ dirs (3, 10+207, V)``, kept
   coordinate-major as (3, B, V);
2. rest joints: ``J_regressor @ v_shaped`` is linear in betas, so it is folded into
   ``J_template + betas @ J_shapedirs`` (no (24, V) product per sample);
3. the kinematic chain is evaluated level by level (depth 9 for SMPL), one batched
   4x4 product per level;
4. skinning: ``A (4*3*B, 24) @ weights^T (24, V)`` gives each vertex's blended 3x4
   transform as four (3, B, V) planes, applied with three multiply-adds.

Measured on a 2-core CPU (MindSpore 2.10): slicing a large tensor on a middle axis costs
more than the whole GEMM, so large tensors are only split along their first axis.
All functions are pure: tensors in, tensors out; constants are prepared once in numpy by
:func:`prepare_lbs_constants`.
"""
import numpy as np
from mindspore import Tensor, int32, ops


def kinematic_levels(parents):
    """Group joints by depth in the kinematic tree.

    Args:
        parents: sequence of length J, ``parents[0] == -1``.
    Returns:
        (order, levels): ``order`` is a breadth-first permutation of the joints; ``levels``
        a tuple of ``(start, end, parent_positions)`` slices of ``order``, where
        ``parent_positions[i]`` is the position of joint ``order[start+i]``'s parent inside
        the previous level (``None`` for the root level).
    """
    parents = [int(p) for p in parents]
    if parents[0] != -1 or any(not 0 <= p < i for i, p in enumerate(parents) if i > 0):
        raise ValueError(f"parents must start with -1 and list each parent before its child, got {parents}")
    depth = [0] * len(parents)
    for i in range(1, len(parents)):
        depth[i] = depth[parents[i]] + 1
    order, levels, prev = [], [], []
    for d in range(max(depth) + 1):
        members = [j for j in range(len(parents)) if depth[j] == d]
        start = len(order)
        order.extend(members)
        parent_pos = None if d == 0 else tuple(prev.index(parents[j]) for j in members)
        levels.append((start, len(order), parent_pos))
        prev = members
    return tuple(order), tuple(levels)


def take(x, indices):
    """``x[:, indices]`` for a constant tuple of indices (an explicit Gather: list indexing of
    tensors mis-infers shapes in dynamic-batch exported graphs)."""
    return ops.gather(x, Tensor(np.asarray(indices, np.int32), int32), 1)


def prepare_lbs_constants(v_template, shapedirs, posedirs, j_regressor, weights, num_betas):
    """Precompute the arrays :func:`lbs` needs (numpy, float32).

    Args:
        v_template: (V, 3); shapedirs: (V, 3, >=num_betas); posedirs: (V, 3, P) with
        P = 9 * (J - 1); j_regressor: (J, V) dense; weights: (V, J).
    Returns:
        dict with ``template`` (3, 1, V), ``blend_dirs`` (3, num_betas + P, V),
        ``joint_template`` (J, 3), ``joint_dirs`` (num_betas, J*3), ``weights_t`` (J, V).
    """
    shapedirs = np.asarray(shapedirs, np.float64)[:, :, :num_betas]
    posedirs = np.asarray(posedirs, np.float64)
    j_regressor = np.asarray(j_regressor, np.float64)
    blend_dirs = np.concatenate([shapedirs, posedirs], 2).transpose(1, 2, 0)
    joint_dirs = np.einsum("jv,vck->kjc", j_regressor, shapedirs).reshape(num_betas, -1)
    return {
        "template": np.asarray(v_template, np.float32).T[:, None, :].copy(),
        "blend_dirs": np.ascontiguousarray(blend_dirs, np.float32),
        "joint_template": (j_regressor @ np.asarray(v_template, np.float64)).astype(np.float32),
        "joint_dirs": joint_dirs.astype(np.float32),
        "weights_t": np.ascontiguousarray(np.asarray(weights, np.float32).T),
    }


def blend_vertices(betas, rotmats, template, blend_dirs):
    """Shape and pose blend shapes.

    Args:
        betas: (B, NB); rotmats: (B, J, 3, 3); template: (3, 1, V); blend_dirs: (3, NB + 9*(J-1), V).
    Returns:
        v_posed, coordinate-major (3, B, V), model units.
    """
    num_joints = rotmats.shape[1]
    eye = Tensor(np.eye(3, dtype=np.float32))          # a constant (ONNX has no Eye operator)
    pose_feature = (rotmats[:, 1:] - eye).reshape(-1, 9 * (num_joints - 1))
    feature = ops.concat([betas, pose_feature], 1)
    return template + ops.matmul(feature, blend_dirs)


def rest_joints(betas, joint_template, joint_dirs):
    """Rest-pose joints ``J_regressor @ v_shaped``. betas (B, NB) -> (B, J, 3)."""
    return joint_template + ops.matmul(betas, joint_dirs).reshape(-1, joint_template.shape[0], 3)


def rigid_chain(rotmats, joints, parents, levels):
    """World transforms of every joint (smplx ``batch_rigid_transform``).

    Args:
        rotmats: (B, J, 3, 3) local rotations; joints: (B, J, 3) rest joints, joints given
        in breadth-first order (``kinematic_levels(parents)[0]`` is the identity);
        parents: tuple of J ints; levels: from :func:`kinematic_levels`.
    Returns:
        posed_joints (B, J, 3) and skinning transforms ``A`` (B, J, 3, 4), where
        ``A_j = G_j @ translate(-J_j)``.
    """
    # (x * 0 rather than zeros_like/ones_like: exporters fold those into batch-sized constants)
    parent_joints = ops.concat([joints[:, :1] * 0.0, take(joints, parents[1:])], 1)
    rel = joints - parent_joints
    local = ops.concat([rotmats, ops.expand_dims(rel, -1)], -1)                      # (B, J, 3, 4)
    bottom = local[:, :, :1] * 0.0 + Tensor(np.array([[0, 0, 0, 1]], np.float32))   # (B, J, 1, 4)
    local = ops.concat([local, bottom], 2)                                           # (B, J, 4, 4)
    world = [local[:, levels[0][0]:levels[0][1]]]
    for start, end, parent_pos in levels[1:]:
        prev = world[-1]
        if prev.shape[1] != 1 and tuple(parent_pos) != tuple(range(end - start)):
            prev = take(prev, parent_pos)
        world.append(ops.matmul(prev, local[:, start:end]))
    world = ops.concat(world, 1)                                                     # (B, J, 4, 4)
    world34 = world[:, :, :3]
    posed_joints = world34[:, :, :, 3]
    neg_joints = ops.concat([-joints, joints[:, :, :1] * 0.0 + 1.0], -1)             # (B, J, 4)
    offset = ops.sum(world34 * ops.expand_dims(neg_joints, 2), -1)            # (B, J, 3)
    transforms = ops.concat([world34[:, :, :, :3], ops.expand_dims(offset, -1)], -1)
    return posed_joints, transforms


def skin_vertices(v_posed, transforms, weights_t):
    """Apply the blended rigid transforms to every vertex.

    Args:
        v_posed: (3, B, V) coordinate-major; transforms: (B, J, 3, 4); weights_t: (J, V).
    Returns:
        (B, V, 3) posed vertices.
    """
    num_joints, num_verts = weights_t.shape
    per_joint = ops.transpose(transforms, (3, 2, 0, 1)).reshape(-1, num_joints)        # (4*3*B, J)
    blended = ops.matmul(per_joint, weights_t).reshape(4, 3, -1, num_verts)            # (4, 3, B, V)
    # first-axis splits (not Unstack, which ONNX export lacks), reshaped (free) to drop the axis
    col_x, col_y, col_z, col_t = (c.reshape(3, -1, num_verts) for c in ops.split(blended, 1, 0))  # (3, B, V)
    x, y, z = (c.reshape(-1, num_verts) for c in ops.split(v_posed, 1, 0))                         # (B, V)
    verts = col_x * x + col_y * y + col_z * z + col_t                                   # (3, B, V)
    return ops.transpose(verts, (1, 2, 0))


def lbs(betas, rotmats, template, blend_dirs, joint_template, joint_dirs, weights_t, parents, levels):
    """SMPL forward kinematics and skinning.

    Args:
        betas: (B, NB) shape coefficients.
        rotmats: (B, J, 3, 3) local joint rotations, root first.
        template, blend_dirs, joint_template, joint_dirs, weights_t: Tensors of the arrays
            :func:`prepare_lbs_constants` returns.
        parents, levels: kinematic tree (see :func:`kinematic_levels`).
    Returns:
        vertices (B, V, 3) and posed joints (B, J, 3), model units (metres).
    """
    v_posed = blend_vertices(betas, rotmats, template, blend_dirs)
    joints = rest_joints(betas, joint_template, joint_dirs)
    posed_joints, transforms = rigid_chain(rotmats, joints, parents, levels)
    return skin_vertices(v_posed, transforms, weights_t), posed_joints


def regressed_joint_mixing(regressor, template, blend_dirs, weights_t):
    """Constants of :func:`regressed_joints`: a joint regressor folded into the skinning (numpy).

    A regressed joint is ``sum_v R[k, v] * sum_j w[v, j] * A_j @ [v_posed_v; 1]``, which is
    ``sum_j A_j @ M[k, j]`` with ``M[k, j] = sum_v R[k, v] w[v, j] [v_posed_v; 1]``, linear in the
    blend-shape feature; this returns that linear map, so no vertex is ever posed.

    Args:
        regressor: (K, V); template: (3, 1, V); blend_dirs: (3, NB + 9*(J-1), V); weights_t: (J, V),
            as :func:`prepare_lbs_constants` returns them (over any subset of the vertices).
    Returns:
        ``mixing_dirs`` (NB + 9*J, K*J*4) and ``mixing_template`` (1, K*J*4), float32; the feature
        rows are ``[betas | R_0 | ... | R_{J-1}]`` (row-major rotations; the root's rows are zero
        and the pose blend shapes' ``- I`` is folded into the template).
    """
    regressor, template, blend_dirs, weights_t = (np.asarray(a, np.float64)
                                                  for a in (regressor, template, blend_dirs, weights_t))
    num_keypoints, num_joints = regressor.shape[0], weights_t.shape[0]
    num_betas = blend_dirs.shape[1] - 9 * (num_joints - 1)
    mix = (regressor[:, None, :] * weights_t[None]).reshape(num_keypoints * num_joints, -1)   # (K*J, V)
    dirs = np.tensordot(blend_dirs, mix, ([2], [1])).transpose(1, 2, 0)                         # (F, K*J, 3)
    constant = np.concatenate([mix @ template[:, 0].T, mix.sum(1, keepdims=True)], 1)           # (K*J, 4)
    pose_dirs = dirs[num_betas:].reshape(num_joints - 1, 9, num_keypoints * num_joints, 3)
    constant[:, :3] -= np.einsum("e,jemc->mc", np.eye(3).reshape(9), pose_dirs)
    mixing_dirs = np.zeros((num_betas + 9 * num_joints, num_keypoints * num_joints, 4))
    mixing_dirs[:num_betas, :, :3] = dirs[:num_betas]
    mixing_dirs[num_betas + 9:, :, :3] = dirs[num_betas:]
    return {"mixing_dirs": mixing_dirs.reshape(len(mixing_dirs), -1).astype(np.float32),
            "mixing_template": constant.reshape(1, -1).astype(np.float32)}


def regressed_joints(betas, rotmats, transforms, mixing_dirs, mixing_template):
    """Regressed joints of the skinned mesh without posing its vertices (exact up to roundoff).

    Args:
        betas: (B, NB); rotmats: (B, J, 3, 3); transforms: (B, J, 3, 4) from :func:`rigid_chain`;
        mixing_dirs, mixing_template: Tensors of :func:`regressed_joint_mixing`'s arrays.
    Returns:
        (B, K, 3) joints, model units; what ``regressor @ lbs(...)[0]`` gives.
    """
    num_joints = rotmats.shape[1]
    feature = ops.concat([betas, rotmats.reshape(-1, 9 * num_joints)], 1)
    num_keypoints = mixing_template.shape[1] // (4 * num_joints)
    mixing = (ops.matmul(feature, mixing_dirs) + mixing_template).reshape(-1, num_keypoints, 4 * num_joints)
    columns = ops.transpose(transforms, (0, 1, 3, 2)).reshape(-1, 4 * num_joints, 3)
    return ops.matmul(mixing, columns)
