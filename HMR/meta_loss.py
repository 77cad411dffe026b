"""Meta-HMR's objective (Nie et al. 2024, ``train/trainer_one_stage_hmr.py``), pure MindSpore.

One objective serves the three places Meta-HMR uses it: the inner step of meta-training and
the first step of test-time adaptation (targets = the auxiliary network's predictions, the
pseudo ground truth) and the outer loss of meta-training (targets = the labels):

    total = w_shape * L1(vertices) + w_kp * MSE2D + w_kp * MSE3D + w_pose * MSE(rotmats)
            + w_betas * MSE(betas) + mean(exp(-10 s)^2)

- MSE2D: ``mean(conf * (pred - gt)^2)`` over every keypoint and coordinate of the batch, in
  normalised crop coordinates [-1, 1] (invisible keypoints count in the denominator, as in
  Meta-HMR's ``(conf * MSELoss(reduction='none')).mean()``);
- MSE3D: pelvis-aligned (mid-hip, LSP joints 2 and 3) confidence-weighted MSE over the samples
  with 3D targets;
- vertices L1, rotation-matrix MSE, betas MSE: means over the samples with SMPL targets;
- the camera term pushes the weak-perspective scale ``s`` to be positive.

Masks are (B,) floats in {0, 1}; a term with no selected sample is 0, as in Meta-HMR.
"""
from mindspore import nn, ops

from HMR.constants import LSP14_HIPS
from HMR.graph_call import call
from HMR.outputs import BETAS, CAM, JOINTS3D, KEYPOINTS2D, ROTMATS, VERTICES


def _pelvis_aligned(joints):
    right, left = LSP14_HIPS
    return joints - (joints[:, right:right + 1] + joints[:, left:left + 1]) * 0.5


def _masked_mean(values, mask):
    """Mean of ``values`` (B, ...) over the samples with ``mask`` (B,) = 1 (0 when there are none)."""
    per_sample = values.reshape(values.shape[0], -1)
    return ops.sum(per_sample * mask.reshape(-1, 1)) / ops.maximum(ops.sum(mask) * per_sample.shape[1], 1.0)


def keypoint_mse(pred, gt):
    """pred (B, K, 2), gt (B, K, 3) = (x, y, confidence) -> Meta-HMR's 2D keypoint loss (scalar)."""
    return ops.mean(gt[:, :, 2:3] * ops.square(pred - gt[:, :, :2]))


class MetaHMRLoss(nn.Cell):
    """construct(prediction, keypoints, targets, has_smpl, has_3d) -> (total, kp2d, joint3d, vertices,
    pose, betas, camera).

    prediction: (cam (B, 3), rotmats (B, 24, 3, 3), betas (B, 10), vertices (B, V, 3),
        joints3d (B, K, 3), keypoints2d (B, K, 2)) - the model's outputs, metres;
    keypoints: (B, K, 3) observed 2D keypoints with confidence;
    targets: (rotmats (B, 24, 3, 3), betas (B, 10), vertices (B, V, 3), joints (B, J, 3),
        joint confidence (B, J, 1)); the first J of the predicted joints are compared.
    """

    def __init__(self, shape_weight, keypoint_weight, pose_weight, betas_weight):
        super().__init__()
        self.weights = (shape_weight, keypoint_weight, pose_weight, betas_weight)

    def construct(self, prediction, keypoints, targets, has_smpl, has_3d):
        cam, rotmats, betas, vertices, joints3d, keypoints2d = prediction
        t_rotmats, t_betas, t_vertices, t_joints, t_conf = targets
        kp = keypoint_mse(keypoints2d, keypoints)
        count = t_joints.shape[1]
        joints = t_conf * ops.square(_pelvis_aligned(joints3d[:, :count]) - _pelvis_aligned(t_joints))
        j3d = _masked_mean(joints, has_3d)
        shape = _masked_mean(ops.abs(vertices - t_vertices), has_smpl)
        pose = _masked_mean(ops.square(rotmats - t_rotmats), has_smpl)
        shape_params = _masked_mean(ops.square(betas - t_betas), has_smpl)
        camera = ops.mean(ops.square(ops.exp(-10.0 * cam[:, 0])))
        w_shape, w_kp, w_pose, w_betas = self.weights
        total = w_shape * shape + w_kp * (kp + j3d) + w_pose * pose + w_betas * shape_params + camera
        return total, kp, j3d, shape, pose, shape_params, camera


def prediction_of(outputs):
    """The objective's prediction tuple (cam, rotmats, betas, vertices, joints3d, keypoints2d) from
    ``HMR.decode`` / ``HMR.construct`` outputs."""
    return (outputs[CAM], outputs[ROTMATS], outputs[BETAS], outputs[VERTICES], outputs[JOINTS3D],
            outputs[KEYPOINTS2D])


def pseudo_targets(outputs):
    """Targets from another network's outputs (the auxiliary network): every joint, confidence 1."""
    joints = ops.stop_gradient(outputs[JOINTS3D])
    return (ops.stop_gradient(outputs[ROTMATS]), ops.stop_gradient(outputs[BETAS]),
            ops.stop_gradient(outputs[VERTICES]), joints, ops.ones_like(joints[:, :, :1]))


class InnerObjective(nn.Cell):
    """The inner (pseudo ground truth) objective as a function of the fast tensors.

    construct(fast tuple, features (B, F), noise or None, keypoints (B, K, 3), targets (see
    ``MetaHMRLoss``), has_smpl (B,), has_3d (B,), *extra graph inputs) -> (total, kp2d term)."""

    def __init__(self, model, loss):
        super().__init__(auto_prefix=False)
        self.model, self.loss = model, loss

    def construct(self, fast, features, noise, keypoints, targets, has_smpl, has_3d, *extra):
        outputs = call(self.model.decode, (features, noise, fast, *extra))
        terms = self.loss(prediction_of(outputs), keypoints, targets, has_smpl, has_3d)
        return terms[0], terms[1]
