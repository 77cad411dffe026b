"""EHGFormer's training recipe for its refine module (``train_mesh_refine.py``, ``lib/model/loss_mesh.py``,
``configs/mesh/train_pw3d.yaml``; SEED_SYSTEMS_FACTS section 3.6).

- Loss (``MeshLoss``, loss type L1), joints and vertices in millimetres:
  ``0.5 MPJPE + 10 velocity + 1000 pose + 1 shape + 20 norm`` - MPJPE of the pelvis-relative 17 H36M
  joints; velocity: mean distance between the frame-to-frame differences of those joints and the ground
  truth's; pose: L1 between the refined and the ground-truth rotation matrices; shape: L1 of the output
  betas against the ground truth (the refiner passes its input shape through, so this term has no
  gradient, as in the original); norm: the mean Euclidean norm of [axis-angle pose 72 | betas 10].
- AdamW at ``ehgformer_lr`` (3.2e-4) with weight decay ``ehgformer_weight_decay`` (0.01) on every
  parameter (EHGFormer's groups are all decayed), the rate times ``ehgformer_lr_decay`` (0.98) after each
  epoch. MindSpore's ``AdamWeightDecay`` has no bias correction, unlike PyTorch's AdamW.
- Clips of 16 frames on EHGFormer's grid (``split_clips`` at stride 8), drawn at random each step; flip
  augmentation with probability 1/2 per clip, flipping the 2D input (x -> -x, left/right joints swapped),
  the input pose and the ground truth together (EHGFormer's ``flip_thetas``: y and z of every rotation
  negated, left/right joints swapped; the ground-truth joints are the body model's at the flipped pose).
- The 2D input is frame-normalised as EHGFormer's data (``HMR.temporal.registry.frame_keypoints``).
"""
import numpy as np
from mindspore import nn, ops

from HMR.constants import H36M17_FLIP_PERM, SMPL_FLIP_PERM
from HMR.geometry import rotmat_to_axis_angle

LOSS_WEIGHTS = {"mpjpe": 0.5, "velocity": 10.0, "pose": 1000.0, "shape": 1.0, "norm": 20.0}
LOSS_NAMES = ("total",) + tuple(LOSS_WEIGHTS)
CLIP_STRIDE = 8                      # split_clips' data_stride in training
FLIP_PROBABILITY = 0.5
FLIP_STREAM = 3000                   # seed-sequence tag of the flip draws
NORM_FLOOR = 1e-9                    # mm: inside the square root, so that an exact zero (the pelvis minus
                                     # itself) has a zero gradient, as torch.norm's, not NaN
KEYS = ("pose2d", "theta", "shape", "gt_rotmats", "gt_joints", "gt_shape")


def flip_pose2d(pose2d):
    """(..., 17, 3) frame-normalised keypoints mirrored: x negated, left and right joints swapped."""
    flipped = pose2d[..., list(H36M17_FLIP_PERM), :].copy()
    flipped[..., 0] *= -1.0
    return flipped


def flip_theta(theta):
    """(..., 72) axis-angle poses mirrored (``flip_thetas``): joints swapped, y and z negated."""
    shaped = theta.reshape(theta.shape[:-1] + (24, 3))[..., list(SMPL_FLIP_PERM), :].copy()
    shaped[..., 1:] *= -1.0
    return shaped.reshape(theta.shape)


def _lengths(x):
    return ops.sqrt(ops.sum(ops.square(x), -1) + NORM_FLOOR ** 2)


def loss_cell(refiner):
    class EHGFormerLoss(nn.Cell):
        """Inputs: the refiner's three (N, T, ...) inputs, then the ground truth: rotation matrices
        (N, T, 24, 9), the 17 H36M joints in mm (N, T, 17, 3), betas (N, T, 10). Output: the weighted
        total and its five terms (:data:`LOSS_NAMES`)."""

        def __init__(self):
            super().__init__(auto_prefix=False)
            self.refiner = refiner

        def construct(self, pose2d, theta, shape, gt_rotmats, gt_joints, gt_shape):
            rotmats, betas, _, joints = self.refiner(pose2d, theta, shape)
            local, gt_local = joints - joints[:, :, :1], gt_joints - gt_joints[:, :, :1]
            mpjpe = ops.mean(_lengths(local - gt_local))
            motion = (local[:, 1:] - local[:, :-1]) - (gt_local[:, 1:] - gt_local[:, :-1])
            velocity = ops.mean(_lengths(motion))
            pose = ops.mean(ops.abs(rotmats - gt_rotmats))
            shape_term = ops.mean(ops.abs(betas - gt_shape))
            axis_angle = rotmat_to_axis_angle(rotmats.reshape(-1, 3, 3)).reshape(betas.shape[0], betas.shape[1], -1)
            norm = ops.mean(_lengths(ops.concat([axis_angle, betas], -1)))
            w = LOSS_WEIGHTS
            total = (w["mpjpe"] * mpjpe + w["velocity"] * velocity + w["pose"] * pose + w["shape"] * shape_term
                     + w["norm"] * norm)
            return total, mpjpe, velocity, pose, shape_term, norm

    return EHGFormerLoss()


def clips_per_epoch(groups, length, stride=CLIP_STRIDE):
    """Clips of ``length`` frames at ``stride`` in the sequences (EHGFormer's epoch)."""
    return sum((len(g) - length) // stride + 1 for g in groups if len(g) >= length)


def epoch_learning_rates(config, steps, groups, length):
    """Per-step learning rates: ``ehgformer_lr`` x ``ehgformer_lr_decay`` ^ epoch."""
    clips = config.ehgformer_epoch_clips or clips_per_epoch(groups, length)
    steps_per_epoch = max(1, -(-clips // config.temporal_batch_size))
    return [config.ehgformer_lr * config.ehgformer_lr_decay ** (step // steps_per_epoch) for step in range(steps)]


class Recipe:
    """The refiner's loss, optimiser and per-step batches (``src/training/temporal.py``).

    ``arrays`` (from ``refiner_inputs``): frame-normalised ``pose2d``, per-frame ``theta`` / ``shape``, the
    labels' ``data`` and the body model's ground truth ``gt_rotmats``, ``gt_joints`` (metres); the mirrored
    ground truth is made here."""

    loss_names = LOSS_NAMES
    clip_stride = CLIP_STRIDE

    def __init__(self, config, smpl, refiner, arrays, groups, length, unit):
        from src.training.temporal import ground_truth
        self.seed = config.seed
        self.loss = loss_cell(refiner)
        rates = epoch_learning_rates(config, config.temporal_steps, groups, length)
        self.optimizer = nn.AdamWeightDecay(refiner.trainable_params(), learning_rate=rates,
                                            weight_decay=config.ehgformer_weight_decay)
        gt_shape = arrays["data"]["shape"]
        flip_rotmats, flip_joints, _ = ground_truth(smpl, flip_theta(arrays["data"]["pose"]), gt_shape)
        plain = {"pose2d": arrays["pose2d"], "theta": arrays["theta"], "shape": arrays["shape"],
                 "gt_rotmats": arrays["gt_rotmats"], "gt_joints": arrays["gt_joints"] / unit, "gt_shape": gt_shape}
        flipped = {"pose2d": flip_pose2d(arrays["pose2d"]), "theta": flip_theta(arrays["theta"]),
                   "shape": arrays["shape"], "gt_rotmats": flip_rotmats, "gt_joints": flip_joints / unit,
                   "gt_shape": gt_shape}
        self.stacked = {k: np.stack([plain[k], flipped[k]]).astype(np.float32) for k in KEYS}

    def batch(self, rows, step):
        """Arrays of one step: ``rows`` (B, T) and, per clip, flipped or not (deterministic from the step)."""
        flips = np.random.default_rng([self.seed, step, FLIP_STREAM]).random(len(rows)) < FLIP_PROBABILITY
        which = flips.astype(np.int64)[:, None]
        return [self.stacked[k][which, rows] for k in KEYS]
