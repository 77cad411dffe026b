"""One Meta-HMR meta-training step (Nie et al. 2024): inner SGD on the fast parameters, outer Adam.

Per batch (Meta-HMR's ``Trainer_hmr.train_step`` with one task per batch):

1. the auxiliary network (frozen, inference mode) predicts the batch: its rotations, betas,
   vertices and joints are the pseudo ground truth;
2. inner step(s): ``fast' = fast - inner_lr * grad_fast(inner)``, where ``inner`` is
   ``HMR.meta_loss.MetaHMRLoss`` against the pseudo ground truth plus the batch's 2D keypoints,
   masked by the batch's has_smpl / has_3d flags as in Meta-HMR;
3. outer loss: the same objective with the real labels, evaluated with ``fast'`` in place of the
   head's fast parameters, times ``meta_outer_weight``; its gradient goes to Adam on every
   trainable parameter of the main network.

The gradients are functional: ``ops.grad`` over the fast tensors for the inner step, and
``value_and_grad`` over the optimiser's parameter tuple for the outer one, all in one graph.
First order (default): the inner gradient is a constant (``stop_gradient``), so the outer
gradient reaches the fast parameters through ``fast'`` and the encoder through the outer
forward; the inner step then needs the encoder's features but not their gradient, and both
steps share one encoder forward (BatchNorm in training mode normalises with the batch's own
statistics, so the inner and outer forwards of Meta-HMR see the same features). Second order
differentiates through the inner gradient as well.

The auxiliary network gets no gradient (first order gives it none in Meta-HMR either; with
second order Meta-HMR would train it with aux_lr 1e-6, which this step does not).
Dropout noise: (2 I, 2, B, 1024), the first I iterations' for the inner forward, the rest for
the outer one.
"""
import mindspore as ms
from mindspore import nn, ops

from HMR.constants import NUM_SMPL_JOINTS
from HMR.geometry import batch_rodrigues
from HMR.graph_call import call
from HMR.heads.iterative import fast_parameters
from HMR.meta_loss import InnerObjective, prediction_of, pseudo_targets
from src.training.loss_scale import LossScaler, ScaledObjective, apply_if_finite

META_LOSS_NAMES = ("outer_total", "keypoint_2d", "joint_3d", "vertices", "pose", "betas", "camera", "inner_total")


def sgd_update(fast, grads, lr):
    """fast - lr * grads, tensor by tensor."""
    return tuple(f - lr * g for f, g in zip(fast, grads))


class MetaObjective(nn.Cell):
    """The outer objective of one batch, with the inner step(s) inside (differentiable graph).

    Returns (outer_weight * outer total, kp2d, joint3d, vertices, pose, betas, camera, inner total)."""

    def __init__(self, model, loss, inner_steps, inner_lr, outer_weight, first_order):
        super().__init__(auto_prefix=False)
        self.model, self.loss = model, loss
        self.inner = InnerObjective(model, loss)
        self.inner_grad = ops.value_and_grad(self.inner, grad_position=0, has_aux=True)
        self.fast = ms.ParameterTuple(fast_parameters(model.regressor))
        self.inner_steps, self.inner_lr = inner_steps, inner_lr
        self.outer_weight, self.first_order = outer_weight, first_order
        self.iterations = model.regressor.num_iterations

    def construct(self, images, keypoints, joints3d, pose, betas, has_smpl, has_3d, valid, noise, aux_targets,
                  *extra):
        features = self.model.encode(images)
        inner_features = ops.stop_gradient(features) if self.first_order else features
        has_smpl, has_3d = has_smpl * valid, has_3d * valid
        visible = ops.concat([keypoints[:, :, :2], keypoints[:, :, 2:] * valid.reshape(-1, 1, 1)], 2)
        inner_noise = noise[:self.iterations]
        fast = tuple(self.fast)
        inner_total = ops.zeros((), ms.float32)           # the first inner step's objective, for the log
        for step in range(self.inner_steps):
            (value, _), grads = call(self.inner_grad, (fast, inner_features, inner_noise, visible, aux_targets,
                                                      has_smpl, has_3d, *extra))
            if step == 0:
                inner_total = ops.stop_gradient(value)
            if self.first_order:
                grads = ops.stop_gradient(grads)
            fast = sgd_update(fast, grads, self.inner_lr)
        outputs = call(self.model.decode, (features, noise[self.iterations:], fast, *extra))
        gt_rotmats = batch_rodrigues(pose.reshape(-1, 3)).reshape(-1, NUM_SMPL_JOINTS, 3, 3)
        gt_vertices, _ = self.model.smpl(betas, gt_rotmats)
        targets = (gt_rotmats, betas, gt_vertices, joints3d[:, :, :3], joints3d[:, :, 3:4])
        total, kp, j3d, shape, pose_term, betas_term, camera = self.loss(prediction_of(outputs), visible, targets,
                                                                         has_smpl, has_3d)
        return self.outer_weight * total, kp, j3d, shape, pose_term, betas_term, camera, inner_total


class MetaTrainStep(nn.Cell):
    """One meta-training step. Inputs as ``HMRTrainStep`` (the mocap columns are unused: Meta-HMR
    has no adversarial prior) with noise (2 I, 2, B, 1024). Output: (10,), the losses in
    ``META_LOSS_NAMES`` order then ``STEP_STAT_NAMES``; ``scaler`` as in ``HMRTrainStep``."""

    loss_names = META_LOSS_NAMES

    def __init__(self, objective, aux, optimizer, reducer=None, scaler=None):
        super().__init__(auto_prefix=False)
        self.objective, self.aux, self.optimizer = objective, aux, optimizer
        self.grad = ms.value_and_grad(ScaledObjective(objective), None, optimizer.parameters, has_aux=True)
        self.reducer = reducer if reducer is not None else ops.identity
        self.scaler = scaler if scaler is not None else LossScaler()

    def construct(self, images, keypoints, joints3d, pose, betas, has_smpl, has_3d, valid, mocap_pose, mocap_betas,
                  noise, *extra):
        aux_outputs = call(self.aux, (images, None, *extra))
        scale = self.scaler.scale_value * 1.0     # read before the update below
        (_, total, kp, j3d, shape, pose_term, betas_term, camera, inner), grads = call(self.grad, (
            images, keypoints, joints3d, pose, betas, has_smpl, has_3d, valid, noise, pseudo_targets(aux_outputs),
            *extra, scale))
        total, overflow = apply_if_finite(self.scaler, self.optimizer, self.reducer(grads), total)
        return ops.stack([total, kp, j3d, shape, pose_term, betas_term, camera, inner, scale, overflow])


def build_meta_objective(config, model):
    """The MetaObjective of ``config``'s Meta-HMR keys."""
    from src.builders import build_meta_loss
    return MetaObjective(model, build_meta_loss(config), config.inner_steps, config.inner_lr, config.meta_outer_weight,
                         config.first_order)
