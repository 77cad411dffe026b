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
import mindspore as ms
from mindspore import Tensor, nn, ops

from HMR.constants import SMPL_JOINT_NAMES, SMPL_TO_LSP14
from HMR.geometry import batch_rodrigues, weak_perspective_projection
from HMR.smpl.lbs import lbs, rest_joints, rigid_chain, take

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
        if use_cocoplus:       # only the vertices the keypoint regressor reads are skinned (exact; ~1/9 of them)
            regressor = smpl.regressor("cocoplus").asnumpy()
            support = np.flatnonzero(np.abs(regressor).sum(0) > 0)
            self.template = Tensor(smpl.template.asnumpy()[:, :, support])
            self.blend_dirs = Tensor(smpl.blend_dirs.asnumpy()[:, :, support])
            self.weights_t = Tensor(smpl.weights_t.asnumpy()[:, support])
            self.keypoint_regressor = Tensor(regressor[:, support])
        self.sigma2 = sigma * sigma
        self.weights = (reprojection_weight, pose_weight, limit_weight, shape_weight)
        self.limit_index = Tensor(np.array([i for i, _ in BEND_LIMITS], np.int32))
        self.limit_sign = Tensor(np.array([s for _, s in BEND_LIMITS], np.float32))

    def project(self, pose, betas, cam):
        """(B, K, 2) normalised crop coordinates of the keypoint joints."""
        smpl = self.smpl
        rotmats = batch_rodrigues(pose.reshape(-1, 3)).reshape(-1, 24, 3, 3)
        if self.use_cocoplus:
            vertices, _ = lbs(betas, rotmats, self.template, self.blend_dirs, smpl.joint_template, smpl.joint_dirs,
                              self.weights_t, smpl.parents, smpl.levels)
            joints = ops.matmul(self.keypoint_regressor, vertices)
        else:                  # SMPL's own joints: no skinning at all
            posed, _ = rigid_chain(rotmats, rest_joints(betas, smpl.joint_template, smpl.joint_dirs), smpl.parents,
                                   smpl.levels)
            joints = take(posed, SMPL_TO_LSP14)
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


class RefineSteps(nn.Cell):
    """``steps`` Adam steps on (pose, betas, cam) in one graph: one call per refinement.

    construct(pose (B, 72), betas (B, 10), cam (B, 3), keypoints (B, K, 3)) -> refined
    (pose, betas, cam) and the keypoints' projections (B, K, 2) before and after, all from the
    one graph; the priors are the starting values. Adam as torch.optim.Adam (bias-corrected
    moments, eps outside the square root)."""

    def __init__(self, loss, steps, lr, betas=(0.9, 0.999), eps=1e-8, unroll=5):
        super().__init__()
        self.loss = loss
        self.grad = RefineGrad(loss)
        self.steps, self.lr, self.b1, self.b2, self.eps = steps, lr, betas[0], betas[1], eps
        # a graph-mode while loop costs a few ms per iteration on the CPU: it runs over chunks of
        # ``unroll`` steps, unrolled in the graph, and the remainder is unrolled after it
        self.chunks, self.tail, self.unroll = steps // unroll, steps % unroll, unroll

    def adam_step(self, state, keypoints, prior_pose, prior_betas):
        """One Adam step. state: (params, first moments, second moments, b1 power, b2 power)."""
        params, first, second, b1_power, b2_power = state
        b1_power = b1_power * self.b1
        b2_power = b2_power * self.b2
        _, grads = self.grad(params[0], params[1], params[2], keypoints, prior_pose, prior_betas)
        new_params, new_first, new_second = (), (), ()
        for p, g, m, v in zip(params, grads, first, second):
            m = self.b1 * m + (1.0 - self.b1) * g
            v = self.b2 * v + (1.0 - self.b2) * g * g
            p = p - self.lr * (m / (1.0 - b1_power)) / (ops.sqrt(v / (1.0 - b2_power)) + self.eps)
            new_params, new_first, new_second = new_params + (p,), new_first + (m,), new_second + (v,)
        return new_params, new_first, new_second, b1_power, b2_power

    def construct(self, pose, betas, cam, keypoints):
        zeros = (ops.zeros_like(pose), ops.zeros_like(betas), ops.zeros_like(cam))
        state = ((pose, betas, cam), zeros, zeros, ops.ones((), pose.dtype), ops.ones((), pose.dtype))
        chunk = ops.zeros((), ms.int32)
        while chunk < self.chunks:
            chunk = chunk + 1
            for _ in range(self.unroll):
                state = self.adam_step(state, keypoints, pose, betas)
        for _ in range(self.tail):
            state = self.adam_step(state, keypoints, pose, betas)
        params = state[0]
        return params + (self.loss.project(pose, betas, cam), self.loss.project(params[0], params[1], params[2]))
