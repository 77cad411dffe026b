"""One HMR training step: an encoder update, then a discriminator update (two Adam optimisers).

The architecture's extra graph inputs (CLIFF's ``bbox_info``) come last and go to the model as they
are (``HMR.model``). As in the TF reference, the adversarial prior sees the pose and shape of every regressor
iteration (I x B fakes, against I x B mocap samples "so it's balanced"), while the data terms
use the last iteration; the discriminator is trained on this step's fakes, detached.
Gradients go through a reducer, the identity on one device and an all-reduce mean in
data-parallel runs.
"""
import mindspore as ms
from mindspore import nn, ops

from HMR.constants import NUM_BETAS, NUM_SMPL_JOINTS
from HMR.geometry import batch_rodrigues
from HMR.graph_call import call
from HMR.outputs import BETAS, JOINTS3D, KEYPOINTS2D, ROTMATS, STAGE_BETAS, STAGE_ROTMATS
from src.training.loss_scale import LossScaler, ScaledObjective, apply_if_finite
from src.training.losses import (AdversarialDiscriminatorLoss, AdversarialEncoderLoss, Joint3DLoss, Keypoint2DLoss,
                        SMPLParamLoss)

LOSS_NAMES = ("encoder_total", "keypoint_2d", "joint_3d", "smpl_params", "adversarial", "discriminator_total",
              "disc_real", "disc_fake")


class EncoderLoss(nn.Cell):
    """Weighted encoder objective. Returns (total, kp2d, joint3d, smpl, adversarial, fake rotmats
    (I * B, 24, 3, 3), fake betas (I * B, 10)) - the fakes are every iteration's."""

    def __init__(self, model, discriminator, keypoint_weight, joint3d_weight, smpl_weight, adversarial_weight):
        super().__init__(auto_prefix=False)      # parameter names stay those of model / discriminator
        self.model, self.discriminator = model, discriminator
        self.keypoint_loss, self.joint3d_loss = Keypoint2DLoss(), Joint3DLoss()
        self.smpl_loss, self.adversarial_loss = SMPLParamLoss(), AdversarialEncoderLoss()
        self.weights = (keypoint_weight, joint3d_weight, smpl_weight, adversarial_weight)

    def construct(self, images, keypoints, joints3d, pose, betas, has_smpl, has_3d, valid, noise, *extra):
        outputs = call(self.model.forward_all_iterations, (images, noise, *extra))
        pred_betas, rotmats, pred_joints, pred_keypoints = (outputs[BETAS], outputs[ROTMATS], outputs[JOINTS3D],
                                                            outputs[KEYPOINTS2D])
        fake_rotmats, fake_betas = outputs[STAGE_ROTMATS], outputs[STAGE_BETAS]
        kp = self.keypoint_loss(pred_keypoints, keypoints, valid)
        j3d = self.joint3d_loss(pred_joints, joints3d, has_3d, valid)
        smpl = self.smpl_loss(rotmats, pred_betas, pose, betas, has_smpl, valid)
        adv = self.adversarial_loss(self.discriminator(fake_rotmats, fake_betas))
        w_kp, w_3d, w_smpl, w_adv = self.weights
        total = w_kp * kp + w_3d * j3d + w_smpl * smpl + w_adv * adv
        return total, kp, j3d, smpl, adv, fake_rotmats, fake_betas


class DiscriminatorLoss(nn.Cell):
    """Weighted LSGAN discriminator objective. Returns (total, real term, fake term)."""

    def __init__(self, discriminator, weight):
        super().__init__(auto_prefix=False)
        self.discriminator = discriminator
        self.loss = AdversarialDiscriminatorLoss()
        self.weight = weight

    def construct(self, real_rotmats, real_betas, fake_rotmats, fake_betas):
        real, fake = self.loss(self.discriminator(real_rotmats, real_betas), self.discriminator(fake_rotmats, fake_betas))
        return self.weight * (real + fake), real, fake


class HMRTrainStep(nn.Cell):
    """Both updates of one step. Inputs: a training batch (see ``TRAIN_COLUMNS``; mocap_pose
    (B, I, 72) and mocap_betas (B, I, 10), I mocap samples per row), the dropout noise
    (I, 2, B, 1024) and the architecture's extra graph inputs. Output: (10,) float32, the losses in ``LOSS_NAMES`` order then
    ``STEP_STAT_NAMES``: the loss scale this step used, and 1.0 where the encoder update was skipped
    for non-finite gradients (else 0.0). ``scaler``: :class:`src.training.loss_scale.LossScaler` of the encoder
    objective (None: no scaling); the discriminator's objective is float32 and unscaled."""

    loss_names = LOSS_NAMES

    def set_train(self, mode=True):
        """The step's mode, and its losses' (the model's and the discriminator's): they are held by the gradient
        functions, not as sub-cells, so ``Cell.set_train`` alone would leave them in inference mode (BatchNorm on its
        running statistics, the transformer kit's export forms)."""
        super().set_train(mode)
        for cell in self.loss_cells:
            cell.set_train(mode)
        return self

    def __init__(self, encoder_loss, discriminator_loss, encoder_optimizer, discriminator_optimizer,
                 encoder_reducer=None, discriminator_reducer=None, scaler=None):
        super().__init__(auto_prefix=False)
        # the loss cells, for set_train; not sub-cells (the step would then rename their parameters as it compiles)
        object.__setattr__(self, "loss_cells", (encoder_loss, discriminator_loss))
        self.encoder_optimizer, self.discriminator_optimizer = encoder_optimizer, discriminator_optimizer
        self.encoder_grad = ms.value_and_grad(ScaledObjective(encoder_loss), None, encoder_optimizer.parameters,
                                              has_aux=True)
        self.discriminator_grad = ms.value_and_grad(discriminator_loss, None, discriminator_optimizer.parameters,
                                                    has_aux=True)
        self.encoder_reducer = encoder_reducer if encoder_reducer is not None else ops.identity
        self.discriminator_reducer = discriminator_reducer if discriminator_reducer is not None else ops.identity
        self.scaler = scaler if scaler is not None else LossScaler()

    def construct(self, images, keypoints, joints3d, pose, betas, has_smpl, has_3d, valid, mocap_pose, mocap_betas,
                  noise, *extra):
        scale = self.scaler.scale_value * 1.0     # read before the update below
        (_, e_total, kp, j3d, smpl, adv, fake_rotmats, fake_betas), e_grads = call(self.encoder_grad, (
            images, keypoints, joints3d, pose, betas, has_smpl, has_3d, valid, noise, *extra, scale))
        e_total, overflow = apply_if_finite(self.scaler, self.encoder_optimizer, self.encoder_reducer(e_grads), e_total)
        real_rotmats = batch_rodrigues(mocap_pose.reshape(-1, 3)).reshape(-1, NUM_SMPL_JOINTS, 3, 3)
        (d_total, real, fake), d_grads = self.discriminator_grad(
            real_rotmats, mocap_betas.reshape(-1, NUM_BETAS), ops.stop_gradient(fake_rotmats),
            ops.stop_gradient(fake_betas))
        d_total = ops.depend(d_total, self.discriminator_optimizer(self.discriminator_reducer(d_grads)))
        return ops.stack([e_total, kp, j3d, smpl, adv, d_total, real, fake, scale, overflow])
