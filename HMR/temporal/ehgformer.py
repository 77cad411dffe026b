"""EHGFormer's mesh refine module (``lib/model/model_mesh_refine.py::MeshRegressorForDeployment``): per-frame
SMPL estimates of a track (HybrIK's in the seed) refined by the hypergraph transformer
(:mod:`HMR.temporal.ehgformer_backbone`).

Interface, N tracks of T frames (the seed's exported names):

- inputs ``pose2d`` (N, T, 17, 3): H36M-17 2D keypoints normalised as EHGFormer's data are,
  ``x / w * 2 - 1``, ``y / w * 2 - h / w`` for a w x h image, and confidence in [0, 1];
  ``hybrik_theta`` (N, T, 72) axis-angle SMPL pose (radians, root first); ``hybrik_shape`` (N, T, 10);
- outputs ``rot_mat`` (N, T, 24, 9) row-major rotation matrices, ``shape`` (N, T, 10) (the input shape,
  passed through), ``vertices`` (N, T, 6890, 3) and ``keypoint_3d`` (N, T, 17, 3)
  (``J_regressor_h36m``) in **millimetres**, body frame.

Head ``SMPLRegressor``: the representation (N, T, 17, C) -> dropout -> ``fc1`` Linear(17 C -> hidden) ->
``bn1`` -> ReLU per frame; the input pose in 6D -> ``fc2`` Conv1d(144 -> hidden, 5 frames) -> ``bn2`` ->
ReLU; both concatenated -> ``head_pose`` Conv1d(2 hidden -> 144, 5 frames), added to the input 6D pose;
SMPL with the input shape.

The 6D pair is EHGFormer's and is kept exactly because its weights learned the residual in it: the input
pose is encoded from the first two **rows** of each rotation matrix (``matrix_to_rotation_6d``, pytorch3d's
convention, ``[R00, R01, R02, R10, R11, R12]``) and the output decoded as two **columns**
(``rot6d_to_rotmat``'s ``view(-1, 3, 2)``, SPIN's layout). So decoding an unchanged input gives the
transposed-basis Gram-Schmidt of R, not R: the network has to learn that difference.
``pose_encoding="columns"`` encodes columns instead, so that an unchanged input decodes to itself: not
EHGFormer (its weights do not fit it), a diagnostic of what that difference costs a network trained from
scratch.
"""
from mindspore import nn, ops

from HMR.geometry import batch_rodrigues, rot6d_to_rotmat
from HMR.temporal.ehgformer_backbone import NUM_JOINTS, MixSTE2
from HMR.transformer import Linear

NUM_POSE_JOINTS = 24
NUM_BETAS = 10
POSE_6D = NUM_POSE_JOINTS * 6
KERNEL = 5                        # frames of fc2 and head_pose (Conv1d k 5, padding 2)
MILLIMETRES = 1000.0
BN_MOMENTUM = 0.9                 # PyTorch's momentum 0.1


POSE_ENCODINGS = ("rows", "columns")


def axis_angle_to_6d(theta, encoding="rows"):
    """(N, T, 72) axis-angle -> (N, T, 144): per joint the first two rows of R (``rows``, EHGFormer's
    ``smpl_aa_to_ortho6d``) or columns (``columns``, the layout the output is decoded in)."""
    n, t = theta.shape[0], theta.shape[1]
    rotmats = batch_rodrigues(theta.reshape(-1, 3)).reshape(n, t, NUM_POSE_JOINTS, 3, 3)
    six = rotmats[..., :2, :] if encoding == "rows" else rotmats[..., :2]
    return six.reshape(n, t, POSE_6D)


def _time_conv(in_ch, out_ch):
    """Conv1d over time as a (KERNEL, 1) Conv2d on (N, C, T, 1); "same" padding = the original's padding 2
    (explicit pads export in the wrong order, ``HMR/temporal/refiner.py``)."""
    return nn.Conv2d(in_ch, out_ch, (KERNEL, 1), pad_mode="same", has_bias=True)


def _channels_first(x):
    """(N, T, C) -> (N, C, T, 1); the new axis is added while (N, T) lead, which an export can free."""
    return ops.transpose(ops.expand_dims(x, -1), (0, 2, 1, 3))


class SMPLRegressor(nn.Cell):
    """The refine head (see the module docstring); ``smpl`` is the project's body model with an ``h36m``
    regressor (None builds the layers only, for a converter's list of parameter shapes)."""

    def __init__(self, smpl, dim, hidden=1024, dropout=0.1):
        super().__init__()
        self.smpl = smpl
        self.h36m = None if smpl is None else smpl.regressor("h36m")
        self.dropout = nn.Dropout(p=dropout) if dropout > 0 else nn.Identity()
        self.fc1 = Linear(NUM_JOINTS * dim, hidden)
        self.fc2 = _time_conv(POSE_6D, hidden)
        self.bn1 = nn.BatchNorm2d(hidden, momentum=BN_MOMENTUM)
        self.bn2 = nn.BatchNorm2d(hidden, momentum=BN_MOMENTUM)
        self.head_pose = _time_conv(2 * hidden, POSE_6D)
        self.relu = nn.ReLU()

    def construct(self, feat, pose6d, shape):
        """feat (N, T, 17, C), pose6d (N, T, 144) rows-6D, shape (N, T, 10) -> the four outputs."""
        n, t = feat.shape[0], feat.shape[1]
        frames = self.fc1(self.dropout(feat.reshape(n, t, -1)))                     # (N, T, hidden)
        frames = self.relu(self.bn1(_channels_first(frames)))                       # (N, hidden, T, 1)
        pose_in = _channels_first(pose6d)                                           # (N, 144, T, 1)
        motion = self.relu(self.bn2(self.fc2(pose_in)))
        refined = self.head_pose(ops.concat([frames, motion], 1)) + pose_in
        refined = ops.transpose(refined, (0, 2, 1, 3))[..., 0]                       # (N, T, 144)
        rotmats = rot6d_to_rotmat(refined.reshape(n, t, NUM_POSE_JOINTS, 6), "spin")
        betas = shape.reshape(-1, NUM_BETAS)
        vertices, _ = self.smpl(betas, rotmats.reshape(-1, NUM_POSE_JOINTS, 3, 3))
        vertices = vertices * MILLIMETRES
        joints = ops.matmul(self.h36m, vertices)
        return (rotmats.reshape(n, t, NUM_POSE_JOINTS, 9), betas.reshape(n, t, NUM_BETAS),
                vertices.reshape(n, t, -1, 3), joints.reshape(n, t, NUM_JOINTS, 3))


class EHGFormerRefiner(nn.Cell):
    """``MeshRegressor``: ``backbone`` (:class:`MixSTE2`) and ``head`` (:class:`SMPLRegressor`).

    Args:
        smpl: :class:`HMR.SMPL` with an ``h36m`` regressor.
        labels: (17,) hyperedge labels (``read_joint_labels('manual1' | 'manual2')``).
        relation_bias, dim, depth, heads, mlp_ratio, drop_path_rate: the backbone's (:class:`MixSTE2`).
        hidden, dropout: the head's width and its feature dropout (EHGFormer: 1024, 0.1).
        pose_encoding: ``rows`` (EHGFormer's) or ``columns`` (see the module docstring).
    """

    def __init__(self, smpl, labels, relation_bias="uniform", dim=128, depth=6, heads=8, mlp_ratio=2.0,
                 hidden=1024, dropout=0.1, drop_path_rate=0.1, pose_encoding="rows"):
        super().__init__()
        if pose_encoding not in POSE_ENCODINGS:
            raise ValueError(f"pose encoding must be one of {POSE_ENCODINGS}, got {pose_encoding!r}")
        self.smpl, self.pose_encoding = smpl, pose_encoding
        self.backbone = MixSTE2(labels, relation_bias, dim, depth, heads, mlp_ratio, drop_path_rate)
        self.head = SMPLRegressor(smpl, dim, hidden, dropout)

    def construct(self, pose2d, theta, shape):
        return self.head(self.backbone(pose2d), axis_angle_to_6d(theta, self.pose_encoding), shape)
