"""3DCrowdNet's heads (Choi et al., CVPR 2022; ``common/nets/module.py``, ``layer.py``; identical in HAP's copy):
PositionNet locates the graph joints in a voxel grid of the pose-guided features; RotationNet samples the features
at those joints and regresses SMPL parameters by graph convolution over the 15-joint skeleton.

Sampling: the original reads the features with ``grid_sample(align_corners=True)`` at coordinates that are
soft-argmax expectations, so always inside the grid. Bilinear (trilinear) interpolation there is a product of
tent weights ``max(0, 1 - |x - c|)`` per axis, which is what is computed here: one matrix product per sample,
no gather, exportable, equal to ``grid_sample`` inside the grid (zero padding outside, as the original).

Graph convolution: the original's ``GraphConvBlock`` is one ``Linear`` + ``BatchNorm1d`` per joint
(``fcbn_list.{j}.0`` / ``.1``), then the normalised adjacency, then ReLU. The per-joint linears are one batched
product here (``weight`` (J, out, in), ``bias`` (J, out)) and the per-joint BatchNorms one ``BatchNorm1d`` over
J x out channels: the same statistics (each joint's channel over the batch), one kernel instead of J
(``src/convert/crowdnet_format.py`` stacks the original's tensors in joint order).
"""
import numpy as np
from mindspore import Parameter, Tensor, nn, ops
from mindspore.common.initializer import Normal, Zero, initializer

from HMR.constants import CROWD15_FLIP_PAIRS, CROWD15_NAMES, CROWD15_SKELETON, CROWD_VOXELS, NUM_BETAS, VPOSER_LATENT

GRAPH_WIDTH = 128
GRAPH_RES_BLOCKS = 4
CONV_INIT_STD = 0.001       # model.py init_weights: Conv2d normal(0.001), Linear normal(0.01), biases 0
LINEAR_INIT_STD = 0.01
BN_MOMENTUM = 0.9           # torch momentum 0.1


def normalized_adjacency(num_joints=len(CROWD15_NAMES), skeleton=CROWD15_SKELETON, flip_pairs=CROWD15_FLIP_PAIRS):
    """``D^-1/2 (A + I) D^-1/2`` (J, J) float32, A = the skeleton's bones and the left/right pairs, both ways
    (``utils/transforms.py`` ``build_adj``, ``normalize_adj``)."""
    adjacency = np.eye(num_joints)
    for a, b in tuple(skeleton) + tuple(flip_pairs):
        adjacency[a, b] = adjacency[b, a] = 1.0
    scale = 1.0 / np.sqrt(adjacency.sum(0))
    return (scale[:, None] * adjacency * scale[None, :]).astype(np.float32)


def tent_weights(coordinate, size):
    """Linear-interpolation weights of points on a grid axis: coordinate (B, J) in grid units -> (B, J, size),
    ``max(0, 1 - |coordinate - c|)`` for c = 0 .. size - 1."""
    cells = Tensor(np.arange(size, dtype=np.float32))
    return ops.relu(1.0 - ops.abs(coordinate.expand_dims(-1) - cells))


def sample_features(features, xy):
    """Bilinear samples of a feature map at points: features (B, C, H, W), xy (B, J, 2) in cells (x along W) ->
    (B, J, C) (``grid_sample(align_corners=True)`` at ``2 xy / (size - 1) - 1``)."""
    height, width = features.shape[2], features.shape[3]
    weights = tent_weights(xy[:, :, 1], height).expand_dims(-1) * tent_weights(xy[:, :, 0], width).expand_dims(-2)
    flat = features.reshape(-1, features.shape[1], height * width)                     # (B, C, HW)
    return ops.matmul(weights.reshape(-1, xy.shape[1], height * width), ops.transpose(flat, (0, 2, 1)))


class PositionNet(nn.Cell):
    """Joints in a voxel grid of the pose-guided features.

    Args:
        in_channels: feature channels (2048); num_joints: 15; depth: voxels along z (8).
    Input: features (B, C, V, V) (V = 8).
    Output: joint_img (B, J, 3) the soft-argmax (x, y, z) in voxels [0, V - 1]; joint_score (B, J, 1) the softmax
        volume trilinearly sampled at it.
    """

    def __init__(self, in_channels=2048, num_joints=len(CROWD15_NAMES), depth=CROWD_VOXELS):
        super().__init__()
        self.num_joints, self.depth = num_joints, depth
        # make_conv_layers([C, J * D], kernel=1, bnrelu_final=False): conv.0 alone
        self.conv = nn.SequentialCell([nn.Conv2d(in_channels, num_joints * depth, 1, has_bias=True,
                                                 weight_init=Normal(CONV_INIT_STD), bias_init=Zero())])

    def construct(self, features):
        logits = self.conv(features)
        height, width = logits.shape[2], logits.shape[3]
        volume = ops.softmax(logits.reshape(-1, self.num_joints, self.depth * height * width), -1)
        volume = volume.reshape(-1, self.num_joints, self.depth, height, width)
        x = ops.sum(ops.sum(volume, (2, 3)) * Tensor(np.arange(width, dtype=np.float32)), -1, keepdim=True)
        y = ops.sum(ops.sum(volume, (2, 4)) * Tensor(np.arange(height, dtype=np.float32)), -1, keepdim=True)
        z = ops.sum(ops.sum(volume, (3, 4)) * Tensor(np.arange(self.depth, dtype=np.float32)), -1, keepdim=True)
        joints = ops.concat([x, y, z], -1)
        weights = (tent_weights(z[..., 0], self.depth).reshape(-1, self.num_joints, self.depth, 1, 1) *
                   tent_weights(y[..., 0], height).reshape(-1, self.num_joints, 1, height, 1) *
                   tent_weights(x[..., 0], width).reshape(-1, self.num_joints, 1, 1, width))
        score = ops.sum(volume * weights, (2, 3, 4)).expand_dims(-1)
        return joints, score


class GraphConvBlock(nn.Cell):
    """One ``GraphConvBlock``: a linear map per joint, BatchNorm per joint and channel, the adjacency, ReLU.

    Input: (B, J, in). Output: (B, J, out)."""

    def __init__(self, adjacency, in_dim, out_dim):
        super().__init__()
        joints = adjacency.shape[0]
        self.adjacency = Tensor(adjacency)
        self.joints, self.out_dim = joints, out_dim
        self.weight = Parameter(initializer(Normal(LINEAR_INIT_STD), (joints, out_dim, in_dim)), name="weight")
        self.bias = Parameter(initializer(Zero(), (joints, out_dim)), name="bias")
        self.bn = nn.BatchNorm1d(joints * out_dim, momentum=BN_MOMENTUM)

    def construct(self, x):
        per_joint = ops.bmm(ops.transpose(x, (1, 0, 2)), ops.transpose(self.weight, (0, 2, 1)))    # (J, B, out)
        y = ops.transpose(per_joint, (1, 0, 2)) + self.bias
        y = self.bn(y.reshape(-1, self.joints * self.out_dim)).reshape(-1, self.joints, self.out_dim)
        return ops.relu(ops.matmul(self.adjacency, y))


class GraphResBlock(nn.Cell):
    """Two graph convolutions and a skip: (B, J, C) -> (B, J, C)."""

    def __init__(self, adjacency, dim):
        super().__init__()
        self.graph_block1 = GraphConvBlock(adjacency, dim, dim)
        self.graph_block2 = GraphConvBlock(adjacency, dim, dim)

    def construct(self, x):
        return self.graph_block2(self.graph_block1(x)) + x


def _linear(in_dim, out_dim):
    return nn.Dense(in_dim, out_dim, weight_init=Normal(LINEAR_INIT_STD), bias_init=Zero())


class RotationNet(nn.Cell):
    """SMPL parameters from the features at the located joints.

    Args:
        in_channels: feature channels (2048); num_joints: 15; latent: VPoser's code size (32).
    Input: features (B, C, V, V); joint_img (B, J, 3) voxels; joint_score (B, J, 1) (both held constant: the
        original detaches them).
    Output: root_pose (B, 6) 6D (SPIN layout); pose code (B, latent); betas (B, 10); cam_param (B, 3).
    """

    def __init__(self, in_channels=2048, num_joints=len(CROWD15_NAMES), latent=VPOSER_LATENT):
        super().__init__()
        adjacency = normalized_adjacency(num_joints)
        self.graph_block = nn.SequentialCell([GraphConvBlock(adjacency, in_channels + 4, GRAPH_WIDTH)] +
                                             [GraphResBlock(adjacency, GRAPH_WIDTH) for _ in range(GRAPH_RES_BLOCKS)])
        flat = num_joints * GRAPH_WIDTH
        self.root_pose_out = _linear(flat, 6)
        self.pose_out = _linear(flat, latent)
        self.shape_out = _linear(flat, NUM_BETAS)
        self.cam_out = _linear(flat, 3)
        self.flat = flat

    def construct(self, features, joint_img, joint_score):
        joint_img, joint_score = ops.stop_gradient(joint_img), ops.stop_gradient(joint_score)
        sampled = sample_features(features, joint_img[:, :, :2])
        x = self.graph_block(ops.concat([sampled, joint_img, joint_score], -1)).reshape(-1, self.flat)
        return self.root_pose_out(x), self.pose_out(x), self.shape_out(x), self.cam_out(x)
