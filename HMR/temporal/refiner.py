"""The temporal refiner: per-frame SMPL estimates of one person's track, refined over time.

Interface (EHGFormer's refine module, HMR_FACTS "Temporal refinement"), N tracks of T frames:

- inputs: ``pose2d`` (N, T, 17, 3) H36M-order 2D keypoints (x, y in any pixel unit, confidence
  in [0, 1]; 0 = missing), ``theta`` (N, T, 72) per-frame SMPL pose (axis-angle, radians, root
  first), ``shape`` (N, T, 10) per-frame betas;
- outputs: ``rot_mat`` (N, T, 24, 9) refined rotation matrices (row-major), ``shape`` (N, T, 10)
  (the track's mean betas on every frame), ``vertices`` (N, T, 6890, 3) and ``keypoint_3d``
  (N, T, 17, 3) (``J_regressor_h36m``), metres, in the body frame (no translation).

Network (MotionBERT's spatio-temporal transformer, small, fused with the per-frame pose as
EHGFormer's head does):

1. 2D keypoints are centred per frame on their confidence-weighted mean and divided by the
   track's RMS spread (so pixels, crop units or normalised coordinates give the same input);
   each joint's (x, y, c) is embedded to ``dim`` channels plus a learned joint embedding and a
   depthwise temporal convolution (relative position in time).
2. ``depth`` space-time blocks (:class:`HMR.temporal.space_time.SpaceTimeBlock`), a final norm;
   per frame the J x dim features -> ``hidden`` (Linear, ReLU).
3. The per-frame pose in 6D (SPIN's layout, 144) -> ``hidden`` by a temporal convolution
   (``kernel`` frames); both streams concatenated -> 144 by a second temporal convolution,
   added to the input 6D pose. That convolution starts at zero: an untrained refiner returns
   its input pose.
4. SMPL (the project's layer) and ``J_regressor_h36m`` for vertices and the 17 joints.
"""
import numpy as np
from mindspore import Parameter, Tensor, nn, ops

from HMR.geometry import batch_rodrigues, rot6d_to_rotmat, rotmat_to_rot6d
from HMR.temporal.space_time import LayerNorm, SpaceTimeBlock
from HMR.transformer import Linear

NUM_KEYPOINTS = 17          # H36M joints (HMR.constants.H36M17_NAMES)
NUM_POSE_JOINTS = 24
NUM_BETAS = 10
POSE_6D = NUM_POSE_JOINTS * 6
SCALE_EPS = 1e-6


def normalise_keypoints(pose2d):
    """(N, T, J, 3) pixels + confidence -> (N, T, J, 3): x, y centred per frame on the
    confidence-weighted mean, divided by the track's confidence-weighted RMS spread."""
    xy, conf = pose2d[..., :2], pose2d[..., 2:3]
    centre = ops.sum(xy * conf, 2, keepdim=True) / (ops.sum(conf, 2, keepdim=True) + SCALE_EPS)
    offset = xy - centre
    spread = ops.sum(ops.sum(ops.sum(offset * offset * conf, 3, keepdim=True), 2, keepdim=True), 1, keepdim=True)
    weight = ops.sum(ops.sum(conf, 2, keepdim=True), 1, keepdim=True)
    scale = ops.sqrt(spread / (weight + SCALE_EPS) + SCALE_EPS)
    return ops.concat([offset / scale, conf], -1)


class TemporalConv(nn.Cell):
    """A convolution over time of (N, T, C_in) -> (N, T, C_out), ``kernel`` frames, zero padded."""

    def __init__(self, in_ch, out_ch, kernel, zero=False):
        super().__init__()
        # "same", not explicit (k // 2, k // 2, 0, 0): MindSpore 2.10's ONNX exporter writes explicit
        # pads in its own (top, bottom, left, right) order, which ONNX reads as (top, left, bottom, right)
        self.conv = nn.Conv2d(in_ch, out_ch, (kernel, 1), pad_mode="same", has_bias=True,
                              weight_init="zeros" if zero else "he_uniform", bias_init="zeros")

    def construct(self, x):
        y = self.conv(ops.transpose(ops.expand_dims(x, -1), (0, 2, 1, 3)))   # (N, C, T, 1)
        return ops.transpose(y, (0, 2, 1, 3))[..., 0]


class TemporalRefiner(nn.Cell):
    """See the module docstring.

    Args:
        smpl: :class:`HMR.SMPL` with an ``h36m`` regressor.
        dim, depth, heads, mlp_ratio: the transformer's width, blocks, heads and MLP factor.
        hidden: width of the two fused per-frame streams.
        kernel: frames seen by each temporal convolution (odd).
    """

    def __init__(self, smpl, dim=32, depth=2, heads=4, mlp_ratio=2, hidden=128, kernel=5):
        super().__init__()
        if kernel % 2 != 1:
            raise ValueError(f"the temporal kernel must be odd, got {kernel}")
        self.smpl = smpl
        self.h36m = smpl.regressor("h36m")
        self.embed = Linear(3, dim)
        self.joint_embed = Parameter(Tensor(np.random.default_rng(0).normal(0, 0.02, (NUM_KEYPOINTS, dim))
                                            .astype(np.float32)), name="joint_embed")
        self.time_embed = nn.Conv2d(dim, dim, (3, 1), pad_mode="same", group=dim, has_bias=True,
                                    weight_init="zeros", bias_init="zeros")
        self.blocks = nn.CellList([SpaceTimeBlock(dim, heads, mlp_ratio) for _ in range(depth)])
        self.norm = LayerNorm(dim)
        self.frame_fc = Linear(NUM_KEYPOINTS * dim, hidden)
        self.pose_conv = TemporalConv(POSE_6D, hidden, kernel)
        self.fuse_conv = TemporalConv(2 * hidden, POSE_6D, kernel, zero=True)
        self.relu = nn.ReLU()

    def keypoint_features(self, pose2d):
        """(N, T, 17, 3) -> per-frame features (N, T, hidden)."""
        x = self.embed(normalise_keypoints(pose2d)) + self.joint_embed
        x = x + ops.transpose(self.time_embed(ops.transpose(x, (0, 3, 1, 2))), (0, 2, 3, 1))
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        return self.relu(self.frame_fc(x.reshape(x.shape[0], x.shape[1], -1)))

    def refine_pose(self, pose2d, theta):
        """-> refined rotation matrices (N, T, 24, 3, 3)."""
        rotmats = batch_rodrigues(theta.reshape(-1, 3)).reshape(theta.shape[0], theta.shape[1], NUM_POSE_JOINTS, 3, 3)
        pose6d = rotmat_to_rot6d(rotmats).reshape(theta.shape[0], theta.shape[1], POSE_6D)
        fused = ops.concat([self.keypoint_features(pose2d), self.relu(self.pose_conv(pose6d))], -1)
        refined = pose6d + self.fuse_conv(fused)
        return rot6d_to_rotmat(refined.reshape(theta.shape[0], theta.shape[1], NUM_POSE_JOINTS, 6))

    def construct(self, pose2d, theta, shape):
        n, t = theta.shape[0], theta.shape[1]
        rotmats = self.refine_pose(pose2d, theta)
        betas = shape * 0.0 + ops.mean(shape, 1, keep_dims=True)
        vertices, _ = self.smpl(betas.reshape(-1, NUM_BETAS), rotmats.reshape(-1, NUM_POSE_JOINTS, 3, 3))
        joints = ops.matmul(self.h36m, vertices)
        return (rotmats.reshape(n, t, NUM_POSE_JOINTS, 9), betas, vertices.reshape(n, t, -1, 3),
                joints.reshape(n, t, NUM_KEYPOINTS, 3))
