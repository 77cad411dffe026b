"""Export-friendly building blocks of the temporal refiner.

Every layer keeps the leading (N, T, ...) axes of its input as they are: no reshape of a
tensor's batch or time axes, so the exported ONNX graph stays valid for any N and T (see
``src/deployment/dynamic_onnx.py``). Linear layers are ``matmul`` with the weight (broadcast
over the leading axes) rather than ``nn.Dense``, which flattens them; multi-head attention
splits channels, not axes.
"""
import math

import numpy as np
from mindspore import Parameter, Tensor, nn, ops
from mindspore.common.initializer import HeUniform, initializer

LAYER_NORM_EPS = 1e-5
GELU_C = math.sqrt(2.0 / math.pi)


class Linear(nn.Cell):
    """``x @ weight^T + bias`` over the last axis; weight (out, in) as ``nn.Dense`` names it."""

    def __init__(self, in_dim, out_dim, zero=False):
        super().__init__()
        init = "zeros" if zero else HeUniform(math.sqrt(5))
        self.weight = Parameter(initializer(init, (out_dim, in_dim)), name="weight")
        bound = 0.0 if zero else 1.0 / math.sqrt(in_dim)
        self.bias = Parameter(Tensor(np.random.default_rng(in_dim * 7919 + out_dim).uniform(
            -bound, bound, out_dim).astype(np.float32)), name="bias")

    def construct(self, x):
        return ops.matmul(x, self.weight.T) + self.bias


class LayerNorm(nn.Cell):
    """Layer normalisation over the last axis (gamma, beta), written out from reductions."""

    def __init__(self, dim):
        super().__init__()
        self.gamma = Parameter(Tensor(np.ones(dim, np.float32)), name="gamma")
        self.beta = Parameter(Tensor(np.zeros(dim, np.float32)), name="beta")

    def construct(self, x):
        centred = x - ops.mean(x, -1, keep_dims=True)
        variance = ops.mean(centred * centred, -1, keep_dims=True)
        return centred / ops.sqrt(variance + LAYER_NORM_EPS) * self.gamma + self.beta


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
        outputs = []
        for qh, kh, vh in zip(ops.split(q, q.shape[-1] // self.heads, -1), ops.split(k, k.shape[-1] // self.heads, -1),
                              ops.split(v, v.shape[-1] // self.heads, -1)):
            weights = ops.softmax(ops.matmul(qh * self.scale, ops.swapaxes(kh, -1, -2)), -1)
            outputs.append(ops.matmul(weights, vh))
        return self.proj(ops.concat(outputs, -1))


def gelu(x):
    """GELU, tanh form (ONNX export has no Erf)."""
    return 0.5 * x * (1.0 + ops.tanh(GELU_C * (x + 0.044715 * x * x * x)))


class MLP(nn.Cell):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.fc2 = Linear(dim, hidden), Linear(hidden, dim)

    def construct(self, x):
        return self.fc2(gelu(self.fc1(x)))


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
