"""SMPL fitting objective (pure MindSpore; test-time refinement): fit SMPL to 2D keypoints near a prediction.

The parameters are packed as one (B, 85) vector ``[pose 72 | betas 10 | cam 3]`` (axis-angle,
shape coefficients, weak-perspective camera), so one Adam update serves them all. Terms
(weights from the config, see ``src/inference/fitting.py``):

* reprojection -- Geman-McClure robust error between the weak-perspective projection of the
  model's keypoint joints and the observed 2D keypoints (normalised crop units), visibility-weighted;
* pose prior -- squared distance of the axis-angle pose to the network's prediction;
* joint limits -- knees and elbows must not bend backwards (squared hinge on the bend angle's
  sign, as SMPLify's angle prior);
* shape -- squared distance of the betas to the prediction.

Each step runs a few hundred tiny kernels at batch 1, and on the CPU their count, not their size,
sets the cost: the keypoints come from the kinematic chain through the regressor folded into the
skinning (:func:`HMR.smpl.lbs.regressed_joints`), and whatever depends only on the keypoints is
prepared once per call.
"""
import numpy as np
import mindspore as ms
from mindspore import Tensor, nn, ops

from HMR.constants import NUM_BETAS, NUM_POSE_PARAMS, NUM_SMPL_JOINTS, SMPL_JOINT_NAMES, SMPL_TO_LSP14
from HMR.geometry import batch_rodrigues, weak_perspective_projection
from HMR.smpl.lbs import regressed_joint_mixing, regressed_joints, rest_joints, rigid_chain, take

POSE_SIZE, BETAS_SIZE, CAM_SIZE = NUM_POSE_PARAMS, NUM_BETAS, 3      # the packed parameters, in this order
# (pose index, sign): the bend must have this sign (knees about x, elbows about y; SMPLify's prior)
BEND_LIMITS = ((3 * SMPL_JOINT_NAMES.index("left_knee"), 1.0), (3 * SMPL_JOINT_NAMES.index("right_knee"), 1.0),
               (3 * SMPL_JOINT_NAMES.index("left_elbow") + 1, -1.0),
               (3 * SMPL_JOINT_NAMES.index("right_elbow") + 1, 1.0))


def pack(pose, betas, cam):
    """(B, 72), (B, 10), (B, 3) -> (B, 85)."""
    return ops.concat([pose, betas, cam], 1)


def unpack(params):
    """(B, 85) -> pose (B, 72), betas (B, 10), cam (B, 3)."""
    return (params[:, :POSE_SIZE], params[:, POSE_SIZE:POSE_SIZE + BETAS_SIZE],
            params[:, POSE_SIZE + BETAS_SIZE:])


class FitLoss(nn.Cell):
    """construct(params (B, 85), target (B, K, 2), keypoint_weight (B, K, 1), prior (B, 85)) -> scalar.

    ``target`` and ``keypoint_weight`` come from :meth:`keypoint_terms`; ``prior`` is the packed
    starting point (the network's prediction; its camera is not a prior)."""

    def __init__(self, smpl, sigma, reprojection_weight, pose_weight, limit_weight, shape_weight):
        super().__init__()
        self.smpl = smpl
        self.use_cocoplus = smpl.has_cocoplus
        if self.use_cocoplus:
            mixing = regressed_joint_mixing(smpl.regressor("cocoplus").asnumpy(), smpl.template.asnumpy(),
                                            smpl.blend_dirs.asnumpy(), smpl.weights_t.asnumpy())
            self.mixing_dirs, self.mixing_template = Tensor(mixing["mixing_dirs"]), Tensor(mixing["mixing_template"])
        self.sigma2 = sigma * sigma
        self.reprojection_weight, self.limit_weight = reprojection_weight, limit_weight
        prior_weight = np.zeros((1, POSE_SIZE + BETAS_SIZE + CAM_SIZE), np.float32)   # mean per block, x weight
        prior_weight[0, :POSE_SIZE] = pose_weight / POSE_SIZE
        prior_weight[0, POSE_SIZE:POSE_SIZE + BETAS_SIZE] = shape_weight / BETAS_SIZE
        self.prior_weight = Tensor(prior_weight)
        self.limit_index = Tensor(np.array([i for i, _ in BEND_LIMITS], np.int32))
        self.limit_sign = Tensor(np.array([s for _, s in BEND_LIMITS], np.float32))

    def keypoint_terms(self, keypoints):
        """keypoints (B, K, 3) -> target (B, K, 2) and per-coordinate weights (B, K, 1): visibility
        times the reprojection weight over the number of visible coordinates (at least 1)."""
        visible = keypoints[:, :, 2:3]
        return keypoints[:, :, :2], visible * (self.reprojection_weight / ops.maximum(ops.sum(visible) * 2.0, 1.0))

    def project(self, params):
        """(B, K, 2) normalised crop coordinates of the keypoint joints of packed parameters (B, 85)."""
        smpl = self.smpl
        pose, betas, cam = unpack(params)
        rotmats = batch_rodrigues(pose.reshape(-1, 3)).reshape(-1, NUM_SMPL_JOINTS, 3, 3)
        posed, transforms = rigid_chain(rotmats, rest_joints(betas, smpl.joint_template, smpl.joint_dirs),
                                        smpl.parents, smpl.levels)
        if self.use_cocoplus:
            joints = regressed_joints(betas, rotmats, transforms, self.mixing_dirs, self.mixing_template)
        else:                  # SMPL's own joints
            joints = take(posed, SMPL_TO_LSP14)
        return weak_perspective_projection(joints, cam)

    def construct(self, params, target, keypoint_weight, prior):
        squared = ops.square(self.project(params) - target)
        reprojection = ops.sum(self.sigma2 * squared / (self.sigma2 + squared) * keypoint_weight)
        priors = ops.sum(ops.square(params - prior) * self.prior_weight) / params.shape[0]
        bends = ops.gather(params, self.limit_index, 1)
        limits = ops.mean(ops.square(ops.relu(-bends * self.limit_sign)))
        return reprojection + priors + self.limit_weight * limits


class FitSteps(nn.Cell):
    """``steps`` Adam steps on (pose, betas, cam) in one graph: one call per fit.

    construct(pose (B, 72), betas (B, 10), cam (B, 3), keypoints (B, K, 3)) -> refined
    (pose, betas, cam) and the keypoints' projections (B, K, 2) before and after, all from the
    one graph; the priors are the starting values. Adam as torch.optim.Adam (bias-corrected
    moments, eps outside the square root)."""

    def __init__(self, loss, steps, lr, betas=(0.9, 0.999), eps=1e-8, unroll=5):
        super().__init__()
        self.loss = loss
        self.grad = ops.grad(loss, grad_position=0)
        self.steps, self.lr, self.b1, self.b2, self.eps = steps, lr, betas[0], betas[1], eps
        # a graph-mode while loop costs a few ms per iteration on the CPU: it runs over chunks of
        # ``unroll`` steps, unrolled in the graph, and the remainder is unrolled after it
        self.chunks, self.tail, self.unroll = steps // unroll, steps % unroll, unroll

    def adam_step(self, state, target, keypoint_weight, prior):
        """One Adam step. state: (params, first moment, second moment, b1 power, b2 power)."""
        params, first, second, b1_power, b2_power = state
        b1_power = b1_power * self.b1
        b2_power = b2_power * self.b2
        grad = self.grad(params, target, keypoint_weight, prior)
        first = self.b1 * first + (1.0 - self.b1) * grad
        second = self.b2 * second + (1.0 - self.b2) * grad * grad
        denominator = ops.sqrt(second) / ops.sqrt(1.0 - b2_power) + self.eps
        params = params - (self.lr / (1.0 - b1_power)) * (first / denominator)
        return params, first, second, b1_power, b2_power

    def construct(self, pose, betas, cam, keypoints):
        start = pack(pose, betas, cam)
        target, keypoint_weight = self.loss.keypoint_terms(keypoints)
        state = (start, ops.zeros_like(start), ops.zeros_like(start), ops.ones((), start.dtype),
                 ops.ones((), start.dtype))
        chunk = ops.zeros((), ms.int32)
        while chunk < self.chunks:
            chunk = chunk + 1
            for _ in range(self.unroll):
                state = self.adam_step(state, target, keypoint_weight, start)
        for _ in range(self.tail):
            state = self.adam_step(state, target, keypoint_weight, start)
        refined = state[0]
        return unpack(refined) + (self.loss.project(start), self.loss.project(refined))
