"""HMR's loss terms (TF reference), one Cell per term, each with its validity mask.

Every term averages over the valid entries only and is 0 when there are none.
Masks: ``valid`` (readable image), ``has_3d``, ``has_smpl`` — (B,) floats in {0, 1}.
"""
from mindspore import nn, ops

from HMR.constants import LSP14_HIPS, NUM_SMPL_JOINTS
from HMR.geometry import batch_rodrigues


def _safe_divide(total, count):
    return total / ops.maximum(count, 1.0)


def _pelvis_align(joints):
    """(B, 14, C>=3) LSP joints -> xyz minus the mid-hip point."""
    right, left = LSP14_HIPS
    xyz = joints[:, :, :3]
    return xyz - (xyz[:, right:right + 1] + xyz[:, left:left + 1]) * 0.5


class Keypoint2DLoss(nn.Cell):
    """Mean L1 over visible coordinates. pred (B, K, 2), gt (B, K, 3) = (x, y, visibility)."""

    def construct(self, pred, gt, valid):
        weight = gt[:, :, 2:3] * valid.reshape(-1, 1, 1)
        total = ops.sum(ops.abs(pred - gt[:, :, :2]) * weight)
        return _safe_divide(total, ops.sum(weight) * 2.0)


class Joint3DLoss(nn.Cell):
    """0.5 * MSE of the 14 LSP joints, both pelvis-aligned (mid-hip).

    pred (B, K>=14, 3), gt (B, 14, 4) = (x, y, z, confidence); metres.
    """

    def construct(self, pred, gt, has_3d, valid):
        weight = gt[:, :, 3:4] * (has_3d * valid).reshape(-1, 1, 1)
        diff = _pelvis_align(pred[:, :14]) - _pelvis_align(gt)
        return 0.5 * _safe_divide(ops.sum(ops.square(diff) * weight), ops.sum(weight) * 3.0)


class SMPLParamLoss(nn.Cell):
    """0.5 * MSE on the 24 rotation matrices and the 10 betas (226 values per sample).

    pred_rotmats (B, 24, 3, 3), pred_betas (B, 10), gt_pose (B, 72) axis-angle, gt_betas (B, 10).
    """

    def construct(self, pred_rotmats, pred_betas, gt_pose, gt_betas, has_smpl, valid):
        gt_rotmats = batch_rodrigues(gt_pose.reshape(-1, 3)).reshape(-1, NUM_SMPL_JOINTS, 3, 3)
        weight = (has_smpl * valid).reshape(-1, 1)
        sq = ops.concat([ops.square(pred_rotmats - gt_rotmats).reshape(-1, NUM_SMPL_JOINTS * 9),
                         ops.square(pred_betas - gt_betas)], 1)
        return 0.5 * _safe_divide(ops.sum(sq * weight), ops.sum(weight) * sq.shape[1])


class AdversarialEncoderLoss(nn.Cell):
    """LSGAN encoder term: sum over the 25 scores of (D(fake) - 1)^2, mean over the batch."""

    def construct(self, disc_fake):
        return ops.mean(ops.sum(ops.square(disc_fake - 1.0), 1))


class AdversarialDiscriminatorLoss(nn.Cell):
    """LSGAN discriminator terms: mean_b sum (D(real) - 1)^2 and mean_b sum D(fake)^2."""

    def construct(self, disc_real, disc_fake):
        real = ops.mean(ops.sum(ops.square(disc_real - 1.0), 1))
        fake = ops.mean(ops.sum(ops.square(disc_fake), 1))
        return real, fake
