"""HybrIK's training step (``hybrik/models/criterion.py`` ``LaplaceLossDimSMPLCam``, ``scripts/train_smpl_cam.py``):
one Adam update of the whole model with each parameter's gradient clipped to norm 5, the model in training
mode (the naive IK, no scale re-fit).

The targets come from this project's training schema, computed in the graph per batch (``HybrIKTargets``):

* where a sample has SMPL labels: its 24 joints and 5 leaf vertices posed by the body model, placed in HybrIK's
  camera (focal 1000 px at the 256 px crop, principal point the image centre) by the translation whose
  projection best fits the sample's visible 2D keypoints (weighted least squares, linear in the translation:
  ``(u + o) 256 / f (Z + T_z) = X + T_x``), then (u, v, d) of all 29 (d = depth from the root / 2.2 m), the twist
  of every joint about its rest bone from the pose (the quaternion's swing-twist split), the camera scale
  ``f / (256 T_z)``; HybrIK's annotation files carry the same quantities, computed offline;
* otherwise: (u, v) of the twelve limb joints from the 2D keypoints (the first 12 of LSP order, at the SMPL
  joints of the same name, as HybrIK maps COCO), d and the SMPL terms masked.

Loss (HybrIK's weights): Laplace NLL of uvd with the predicted sigma ``log(sigma / amp) + |e| / (sqrt 2 sigma +
1e-5)`` averaged over weighted coordinates (x 1); MSE of betas (x 1), of the 216 rotation-matrix numbers
(x 0.01), of the twists (x 1) and of the camera scale (x 1), each a mean over all its elements with the masked
ones zero, as ``nn.MSELoss`` on masked tensors. The ResNet model's camera translation term is not computed here.
"""
import math

import mindspore as ms
import numpy as np
from mindspore import Tensor, nn, ops

from HMR.cameras.hybrik_camera import box_offset, over
from HMR.constants import (HYBRIK29_CHILDREN, HYBRIK29_PARENTS, HYBRIK_DEPTH_FACTOR, HYBRIK_FOCAL, HYBRIK_INPUT_SIZE,
                           HYBRIK_LEAF_VERTICES, NUM_SMPL_JOINTS, SMPL_TO_LSP14)
from HMR.geometry import batch_rodrigues, rotmat_to_quaternion
from HMR.outputs import CAM_SCALE, PRED_PHI, PRED_SHAPE, PRED_SIGMA, PRED_THETA_MATS, PRED_UVD
from HMR.smpl.lbs import take
from src.training.loss_scale import LossScaler, ScaledObjective, apply_if_finite

HYBRIK_LOSS_NAMES = ("total", "uvd", "betas", "theta", "twist", "camera_scale")
LAPLACE_AMP = 1.0 / math.sqrt(2.0 * math.pi)
LAPLACE_EPS = 1e-5
BETA_WEIGHT, THETA_WEIGHT, TWIST_WEIGHT, UVD_WEIGHT, SCALE_WEIGHT = 1.0, 0.01, 1.0, 1.0, 1.0
GRAD_CLIP = 5.0                 # train_smpl_cam.py: clip_grad_norm_(param, 5) for every parameter
LIMB_KEYPOINTS = 12             # the first 12 of LSP order: ankles, knees, hips, wrists, elbows, shoulders
MIN_FIT_KEYPOINTS = 4           # visible keypoints a camera fit needs (HybrIK: > 3 weighted joints)


def _limb_selection(num_keypoints):
    """(29, K) 0/1: row j picks the keypoint at HybrIK joint j (the limb joints only)."""
    selection = np.zeros((len(HYBRIK29_PARENTS), num_keypoints), np.float32)
    for k, joint in enumerate(SMPL_TO_LSP14[:LIMB_KEYPOINTS]):
        selection[joint, k] = 1.0
    return selection


def twist_angles(rotmats, rest_joints):
    """Each joint's twist about its rest bone to its child (joints 1..23): local rotations (B, 24, 3, 3) and
    rest joints (B, 29, 3) -> (cos, sin) (B, 23, 2). With q = (w, v) the rotation's quaternion and a the unit
    bone, the twist (the rotation applied first, about a) is 2 atan2(v.a, w)."""
    joints = list(range(1, NUM_SMPL_JOINTS))
    bones = take(rest_joints, [HYBRIK29_CHILDREN[i] for i in joints]) - take(rest_joints, joints)
    axis = bones / ops.sqrt(ops.sum(bones * bones, -1, keepdim=True))
    quat = rotmat_to_quaternion(rotmats[:, 1:])
    w, p = quat[..., :1], ops.sum(quat[..., 1:] * axis, -1, keepdim=True)
    norm = w * w + p * p
    return ops.concat([(w * w - p * p) / norm, 2.0 * w * p / norm], -1)


def fit_translation(points, uv, weight, offset, focal=HYBRIK_FOCAL, input_size=HYBRIK_INPUT_SIZE):
    """The translation T (B, 3) placing ``points`` (B, K, 3) m where the pinhole (focal px at ``input_size``) sees
    them at ``uv`` (B, K, 2) in crop sides from the crop centre, ``offset`` (B, 1, 2) the crop centre's from the
    image centre: weighted least squares of ``k (u + o) T_z - T = X - k (u + o) Z`` (k = input_size / f) in x and
    y, by the 3 x 3 normal equations solved in closed form. Returns T and the determinant (B, 1) (0 =
    no fit)."""
    k = input_size / focal
    a = k * (uv + offset)                                        # (B, K, 2)
    w = weight                                                  # (B, K, 1)
    # unknowns (T_x, T_y, T_z); x rows: [-1, 0, a_x], y rows: [0, -1, a_y]; right side X - a Z
    sw = ops.sum(w, 1)                                          # (B, 1)
    swa = ops.sum(w * a, 1)                                     # (B, 2)
    swaa = ops.sum(w * a * a, (1, 2)).reshape(-1, 1)            # (B, 1)
    rhs = (points[..., :2] - a * points[..., 2:]) * w           # (B, K, 2)
    r = -ops.sum(rhs, 1)                                        # (B, 2): -sum w (X - aZ)
    rz = ops.sum(rhs * a, (1, 2)).reshape(-1, 1)                # (B, 1)
    # normal matrix [[sw, 0, -swa_x], [0, sw, -swa_y], [-swa_x, -swa_y, swaa]] (T_x, T_y, T_z) = (r_x, r_y, rz)
    det = sw * (sw * swaa - swa[:, 1:] * swa[:, 1:]) - swa[:, :1] * swa[:, :1] * sw
    safe = ops.where(ops.abs(det) > 1e-12, det, ops.ones_like(det))
    tz = (sw * sw * rz + sw * swa[:, :1] * r[:, :1] + sw * swa[:, 1:] * r[:, 1:]) / safe
    txy = (r + swa * tz) / ops.maximum(sw, 1e-12 * ops.ones_like(sw))
    return ops.concat([txy, tz], -1), det


class HybrIKTargets(nn.Cell):
    """A batch's HybrIK targets (see the module docstring) from ``model``'s body model.

    Inputs: keypoints (B, K, 3) the model's keypoint set in crop coordinates [-1, 1] + visibility; pose (B, 72);
    betas (B, 10); has_smpl, valid (B,); bbox (B, 4), image_center (B, 2).
    Outputs: uvd (B, 29, 3) and its weight (B, 29, 3); rotation matrices (B, 24, 3, 3); twist (B, 23, 2); camera
    scale (B, 1); the SMPL weight (B, 1) (has_smpl, valid, a fitted camera).
    """

    def __init__(self, model):
        super().__init__(auto_prefix=False)
        self.model = model
        self.limbs = Tensor(_limb_selection(model.smpl.num_keypoints))

    def construct(self, keypoints, pose, betas, has_smpl, valid, bbox, image_center):
        rotmats = batch_rodrigues(pose.reshape(-1, 3)).reshape(-1, NUM_SMPL_JOINTS, 3, 3)
        vertices, joints24 = self.model.smpl(betas, rotmats)
        joints = ops.concat([joints24, take(vertices, list(HYBRIK_LEAF_VERTICES))], 1)
        root = joints[:, :1]
        keypoint_set = self.model.smpl.keypoints(vertices, joints24) - root
        joints = joints - root
        visible = keypoints[:, :, 2:] * valid.reshape(-1, 1, 1)
        offset = box_offset(bbox, image_center)
        uv_observed = keypoints[:, :, :2] * 0.5                            # [-1, 1] -> crop sides
        translation, det = fit_translation(keypoint_set, uv_observed, visible, offset)
        fitted = (ops.sum(visible, (1, 2)).reshape(-1, 1) >= MIN_FIT_KEYPOINTS) & (det > 1e-12) \
            & (translation[:, 2:] > 0)
        smpl_weight = has_smpl.reshape(-1, 1) * valid.reshape(-1, 1) * fitted.astype(ms.float32)
        placed = joints + translation.expand_dims(1)
        safe_depth = ops.where(placed[..., 2:] > 1e-3, placed[..., 2:], ops.ones_like(placed[..., 2:]))
        uv_smpl = (HYBRIK_FOCAL / HYBRIK_INPUT_SIZE) * placed[..., :2] / safe_depth - offset
        uvd_smpl = ops.concat([uv_smpl, joints[..., 2:] / HYBRIK_DEPTH_FACTOR], -1)
        uv_limbs = ops.matmul(self.limbs, uv_observed)
        weight_limbs = ops.matmul(self.limbs, visible)
        uvd_2d = ops.concat([uv_limbs, ops.zeros_like(uv_limbs[..., :1])], -1)
        use_smpl = smpl_weight.reshape(-1, 1, 1)
        uvd = use_smpl * uvd_smpl + (1.0 - use_smpl) * uvd_2d
        weight_2d = ops.concat([weight_limbs, weight_limbs, ops.zeros_like(weight_limbs)], -1)
        uvd_weight = use_smpl * ops.ones_like(uvd) + (1.0 - use_smpl) * weight_2d
        twist = twist_angles(rotmats, self.model.body.template_joints(betas))
        scale = over(HYBRIK_FOCAL / HYBRIK_INPUT_SIZE, ops.where(smpl_weight > 0, translation[:, 2:],
                                                                  ops.ones_like(translation[:, 2:])))
        return (ops.stop_gradient(uvd), ops.stop_gradient(uvd_weight), rotmats, ops.stop_gradient(twist),
                ops.stop_gradient(scale), smpl_weight)


def laplace_nll(pred, sigma, target, weight):
    """HybrIK's ``weighted_laplace_loss``: sum of weighted ``log(sigma / amp) + |e| / (sqrt 2 sigma + 1e-5)`` over
    the weight's sum (0 when it is 0). pred, target, weight (B, K, 3); sigma (B, K, 1)."""
    out = (ops.log(sigma / LAPLACE_AMP) + ops.abs(pred - target) / (math.sqrt(2.0) * sigma + LAPLACE_EPS)) * weight
    total = ops.sum(weight)
    return ops.sum(out) / ops.maximum(total, ops.ones_like(total) * 1e-12) * (total > 0).astype(ms.float32)


class HybrIKObjective(nn.Cell):
    """The loss of one batch. Inputs: the training columns (``src.data.sources.TRAIN_COLUMNS`` up to ``valid``),
    the dropout noise, then bbox and image_center. Returns (total, uvd, betas, theta, twist, camera scale)."""

    def __init__(self, model):
        super().__init__(auto_prefix=False)
        self.model = model
        self.targets = HybrIKTargets(model)

    def construct(self, images, keypoints, joints3d, pose, betas, has_smpl, has_3d, valid, noise, bbox, image_center):
        outputs = self.model.predict(images, bbox, image_center, noise)
        pred_betas, pred_rotmats, pred_uvd = outputs[PRED_SHAPE], outputs[PRED_THETA_MATS], outputs[PRED_UVD]
        cam_scale, pred_twist, pred_sigma = outputs[CAM_SCALE], outputs[PRED_PHI], outputs[PRED_SIGMA]
        uvd, uvd_weight, rotmats, twist, scale, smpl_weight = self.targets(keypoints, pose, betas, has_smpl, valid,
                                                                           bbox, image_center)
        uvd_loss = laplace_nll(pred_uvd.reshape(-1, uvd.shape[1], 3), pred_sigma, uvd, uvd_weight)
        betas_loss = ops.mean(ops.square((pred_betas - betas) * smpl_weight))
        theta_loss = ops.mean(ops.square((pred_rotmats - rotmats.reshape(-1, NUM_SMPL_JOINTS * 9)) * smpl_weight))
        twist_weight = smpl_weight.reshape(-1, 1, 1)
        twist_loss = ops.mean(ops.square((pred_twist - twist) * twist_weight))
        scale_loss = ops.mean(ops.square((cam_scale - scale) * smpl_weight))
        total = (UVD_WEIGHT * uvd_loss + BETA_WEIGHT * betas_loss + THETA_WEIGHT * theta_loss
                 + TWIST_WEIGHT * twist_loss + SCALE_WEIGHT * scale_loss)
        return total, uvd_loss, betas_loss, theta_loss, twist_loss, scale_loss


_clip_one = ops.MultitypeFuncGraph("clip_one")


@_clip_one.register("Tensor", "Tensor")
def _clip_tensor(limit, grad):
    norm = ops.sqrt(ops.sum(ops.square(grad.astype(ms.float32))))
    factor = ops.minimum(limit / (norm + 1e-6), ops.ones_like(norm))
    return grad * factor.astype(grad.dtype)


def clip_each(grads, limit):
    """Every gradient scaled down to norm ``limit`` (a Tensor) where it is longer (``clip_grad_norm_`` per
    parameter). A ``HyperMap``, not a Python loop: graph mode unrolls a loop into nested calls, and HRNet-W48's
    ~1900 parameters pass MindSpore's call-depth limit of 1000."""
    return ops.HyperMap()(ops.partial(_clip_one, limit), grads)


class HybrIKTrainStep(nn.Cell):
    """One HybrIK step. Inputs as ``HMRTrainStep`` (the mocap columns unused: HybrIK has no adversarial prior),
    noise (1, 2, B, 1024), then bbox and image_center. Output: (8,) the losses in ``HYBRIK_LOSS_NAMES`` order then
    ``STEP_STAT_NAMES``. Gradients are reduced across devices, then clipped per parameter (at 5 times the loss
    scale, i.e. 5 once unscaled)."""

    loss_names = HYBRIK_LOSS_NAMES

    def __init__(self, objective, optimizer, reducer=None, scaler=None, clip=GRAD_CLIP):
        super().__init__(auto_prefix=False)
        self.objective, self.optimizer, self.clip = objective, optimizer, clip
        self.grad = ms.value_and_grad(ScaledObjective(objective), None, optimizer.parameters, has_aux=True)
        self.reducer = reducer if reducer is not None else ops.identity
        self.scaler = scaler if scaler is not None else LossScaler()

    def construct(self, images, keypoints, joints3d, pose, betas, has_smpl, has_3d, valid, mocap_pose, mocap_betas,
                  noise, bbox, image_center):
        scale = self.scaler.scale_value * 1.0
        (_, total, uvd, betas_term, theta, twist, camera), grads = self.grad(
            images, keypoints, joints3d, pose, betas, has_smpl, has_3d, valid, noise, bbox, image_center, scale)
        grads = clip_each(self.reducer(grads), self.clip * scale)
        total, overflow = apply_if_finite(self.scaler, self.optimizer, grads, total)
        return ops.stack([total, uvd, betas_term, theta, twist, camera, scale, overflow])
