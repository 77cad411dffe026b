"""MotionBERT's space-time block as the temporal refiner uses it, built from the transformer kit
(``HMR/transformer.py``).

Every layer keeps the leading (N, T, ...) axes of its input as they are: no reshape of a
tensor's batch or time axes, so the exported ONNX graph stays valid for any N and T (see
``src/deployment/dynamic_onnx.py``). Linear layers are the kit's broadcast :class:`Linear`;
multi-head attention splits channels, not axes.
"""
import numpy as np
from mindspore import Parameter, Tensor, nn, ops

from HMR.transformer import Linear, attend, gelu_tanh, layer_norm

LAYER_NORM_EPS = 1e-5


class LayerNorm(nn.Cell):
    """The kit's layer normalisation with MindSpore's parameter names (``gamma``, ``beta``), as the
    refiner's checkpoints store them."""

    def __init__(self, dim):
        super().__init__()
        self.gamma = Parameter(Tensor(np.ones(dim, np.float32)), name="gamma")
        self.beta = Parameter(Tensor(np.zeros(dim, np.float32)), name="beta")

    def construct(self, x):
        return layer_norm(x, self.gamma, self.beta, LAYER_NORM_EPS)


class Attention(nn.Cell):
    """Multi-head self-attention over the second-last axis of (..., L, C) (heads split the channels)."""

    def __init__(self, dim, heads):
        super().__init__()
        if dim % heads:
            raise ValueError(f"attention width {dim} is not a multiple of {heads} heads")
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.qkv = Linear(dim, 3 * dim)
        self.proj = Linear(dim, dim)

    def construct(self, x):
        q, k, v = ops.split(self.qkv(x), x.shape[-1], -1)
        width = q.shape[-1] // self.heads
        outputs = [attend(qh, kh, vh, self.scale)
                   for qh, kh, vh in zip(ops.split(q, width, -1), ops.split(k, width, -1), ops.split(v, width, -1))]
        return self.proj(ops.concat(outputs, -1))


class MLP(nn.Cell):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.fc2 = Linear(dim, hidden), Linear(hidden, dim)

    def construct(self, x):
        return self.fc2(gelu_tanh(self.fc1(x)))


class SpaceTimeBlock(nn.Cell):
    """MotionBERT's DSTformer unit, sequential form: attention across the joints of each frame,
    then across the frames of each joint, each followed by an MLP; pre-norm residuals.

    Input/output: (N, T, J, C).
    """

    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        self.norm_s1, self.norm_s2 = LayerNorm(dim), LayerNorm(dim)
        self.norm_t1, self.norm_t2 = LayerNorm(dim), LayerNorm(dim)
        self.spatial, self.temporal = Attention(dim, heads), Attention(dim, heads)
        self.mlp_s, self.mlp_t = MLP(dim, dim * mlp_ratio), MLP(dim, dim * mlp_ratio)

    def construct(self, x):
        x = x + self.spatial(self.norm_s1(x))
        x = x + self.mlp_s(self.norm_s2(x))
        y = ops.transpose(x, (0, 2, 1, 3))                                   # (N, J, T, C)
        y = y + self.temporal(self.norm_t1(y))
        y = y + self.mlp_t(self.norm_t2(y))
        return ops.transpose(y, (0, 2, 1, 3))
