"""Test-time refinement objective (pure MindSpore): fit SMPL to 2D keypoints near a prediction.

Terms (weights from the config, see ``src/demo/refine.py``):

* reprojection -- Geman-McClure robust error between the weak-perspective projection of the
  model's keypoint joints and the observed 2D keypoints (normalised crop units), visibility-weighted;
* pose prior -- squared distance of the axis-angle pose to the network's prediction;
* joint limits -- knees and elbows must not bend backwards (squared hinge on the bend angle's
  sign, as SMPLify's angle prior);
* shape -- squared distance of the betas to the prediction.
"""
import numpy as np
from mindspore import Tensor, nn, ops

from HMR.constants import SMPL_JOINT_NAMES, SMPL_TO_LSP14
from HMR.geometry import batch_rodrigues, weak_perspective_projection
from HMR.smpl.lbs import take

# (pose index, sign): the bend must have this sign (knees about x, elbows about y; SMPLify's prior)
BEND_LIMITS = ((3 * SMPL_JOINT_NAMES.index("left_knee"), 1.0), (3 * SMPL_JOINT_NAMES.index("right_knee"), 1.0),
               (3 * SMPL_JOINT_NAMES.index("left_elbow") + 1, -1.0),
               (3 * SMPL_JOINT_NAMES.index("right_elbow") + 1, 1.0))


class RefineLoss(nn.Cell):
    """Loss per batch. construct(pose (B, 72), betas (B, 10), cam (B, 3), keypoints (B, K, 3),
    prior_pose (B, 72), prior_betas (B, 10)) -> (total, reprojection) scalars."""

    def __init__(self, smpl, use_cocoplus, sigma, reprojection_weight, pose_weight, limit_weight, shape_weight):
        super().__init__()
        self.smpl = smpl
        self.use_cocoplus = use_cocoplus
        self.sigma2 = sigma * sigma
        self.weights = (reprojection_weight, pose_weight, limit_weight, shape_weight)
        self.limit_index = Tensor(np.array([i for i, _ in BEND_LIMITS], np.int32))
        self.limit_sign = Tensor(np.array([s for _, s in BEND_LIMITS], np.float32))

    def project(self, pose, betas, cam):
        """(B, K, 2) normalised crop coordinates of the keypoint joints."""
        rotmats = batch_rodrigues(pose.reshape(-1, 3)).reshape(-1, 24, 3, 3)
        vertices, smpl_joints = self.smpl(betas, rotmats)
        if self.use_cocoplus:
            joints = self.smpl.regress(vertices, "cocoplus")
        else:
            joints = take(smpl_joints, SMPL_TO_LSP14)
        return weak_perspective_projection(joints, cam)

    def construct(self, pose, betas, cam, keypoints, prior_pose, prior_betas):
        projected = self.project(pose, betas, cam)
        visible = keypoints[:, :, 2:3]
        squared = ops.square(projected - keypoints[:, :, :2])
        robust = self.sigma2 * squared / (self.sigma2 + squared)
        reprojection = ops.sum(robust * visible) / ops.maximum(ops.sum(visible) * 2.0, 1.0)
        pose_prior = ops.mean(ops.square(pose - prior_pose))
        bends = ops.gather(pose, self.limit_index, 1)
        limits = ops.mean(ops.square(ops.relu(-bends * self.limit_sign)))
        shape = ops.mean(ops.square(betas - prior_betas))
        w_rep, w_pose, w_limit, w_shape = self.weights
        total = w_rep * reprojection + w_pose * pose_prior + w_limit * limits + w_shape * shape
        return total, reprojection


class RefineGrad(nn.Cell):
    """(loss, reprojection) and the gradients wrt pose, betas and cam, compiled as one graph."""

    def __init__(self, loss):
        super().__init__()
        self.loss = loss
        self.grad_fn = ops.value_and_grad(loss, grad_position=(0, 1, 2), has_aux=True)

    def construct(self, pose, betas, cam, keypoints, prior_pose, prior_betas):
        return self.grad_fn(pose, betas, cam, keypoints, prior_pose, prior_betas)
