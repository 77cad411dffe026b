"""The project's one transformer kit: the pieces of the ViT backbone, HMR 2.0's decoder head and the
temporal refiner's space-time blocks, written to export.

MindSpore 2.10's ONNX exporter has no ``Erf`` and no ``LayerNormExt``, so both are written out
here from operators it does export: layer normalisation from reductions and the exact (erf)
GELU of PyTorch's ``nn.GELU()`` from Abramowitz & Stegun's 7.1.26 rational approximation of erf
(absolute error below 1.5e-7; the tanh form, :func:`gelu_tanh`, is off by up to 1e-3 and kept for
the temporal refiner, which was trained with it). :class:`LayerNorm` names its parameters as
PyTorch does (``weight``, ``bias``) so that converted state dicts map name for name.

Two ways to apply a linear layer, for two export needs: :func:`linear` flattens the leading axes
into an ``nn.Dense`` and restores them with the batch as the reshape's -1 (a dynamic-batch graph);
:class:`Linear` multiplies by the weight, broadcast over every leading axis, and reshapes nothing
(a graph dynamic in both batch and time, ``src/deployment/dynamic_onnx.py``).
"""
import math

import numpy as np
from mindspore import Parameter, Tensor, nn, ops
from mindspore.common.initializer import HeUniform, initializer

# erf(z) = 1 - (a1 t + ... + a5 t^5) exp(-z^2), t = 1 / (1 + p z), z >= 0 (A&S 7.1.26)
ERF_P = 0.3275911
ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
INV_SQRT2 = 1.0 / math.sqrt(2.0)
GELU_TANH_C = math.sqrt(2.0 / math.pi)


def gelu(x):
    """PyTorch's exact GELU ``x Phi(x) = x (1 + erf(x / sqrt 2)) / 2``.

    Written with the odd symmetry of erf, ``x erf(x / sqrt 2) = |x| erf(|x| / sqrt 2)``, so no sign
    is needed; ``t`` is ``exp(-log(1 + p z))`` because a scalar-over-tensor division exports as a
    ``Reciprocal`` that the exporter lacks.
    """
    magnitude = ops.abs(x)
    z = magnitude * INV_SQRT2
    t = ops.exp(-ops.log(z * ERF_P + 1.0))
    poly = t * (ERF_A[0] + t * (ERF_A[1] + t * (ERF_A[2] + t * (ERF_A[3] + t * ERF_A[4]))))
    erf_z = 1.0 - poly * ops.exp(-z * z)
    return 0.5 * (x + magnitude * erf_z)


def gelu_tanh(x):
    """GELU, tanh form ``x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))) / 2``."""
    return 0.5 * x * (1.0 + ops.tanh(GELU_TANH_C * (x + 0.044715 * x * x * x)))


def layer_norm(x, scale, shift, eps):
    """Layer normalisation of x (..., C) over its last axis, then ``* scale + shift`` (C,)."""
    centred = x - ops.mean(x, -1, keep_dims=True)
    variance = ops.mean(centred * centred, -1, keep_dims=True)
    return centred / ops.sqrt(variance + eps) * scale + shift


class LayerNorm(nn.Cell):
    """``nn.LayerNorm(dim, eps)`` over the last axis; parameters ``weight`` (gamma), ``bias`` (beta). MindSpore's
    fused kernel in training (one kernel forward and one backward instead of the written-out form's eight), the
    exportable :func:`layer_norm` otherwise (export and inference run in evaluation mode); they agree to 6e-8."""

    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.weight = Parameter(Tensor(np.ones(dim, np.float32)), name="weight")
        self.bias = Parameter(Tensor(np.zeros(dim, np.float32)), name="bias")
        self.eps = eps
        self.fused = ops.LayerNorm(begin_norm_axis=-1, begin_params_axis=-1, epsilon=eps)

    def construct(self, x):
        if self.training:
            return self.fused(x, self.weight.astype(x.dtype), self.bias.astype(x.dtype))[0]
        return layer_norm(x, self.weight, self.bias, self.eps)


class Linear(nn.Cell):
    """``x @ weight^T + bias`` over the last axis of x (..., in), leading axes untouched (``ops.dense``: it
    exports as a broadcast MatMul and Add, no reshape, and trains 2.6x faster here than a broadcast
    ``ops.matmul`` against the transposed weight); weight (out, in) as ``nn.Dense`` names it.
    Initialisation: He-uniform weight, bias uniform in +-1/sqrt(in) from a generator seeded by the layer's
    size; ``zero=True`` starts both at zero."""

    def __init__(self, in_dim, out_dim, zero=False):
        super().__init__()
        init = "zeros" if zero else HeUniform(math.sqrt(5))
        self.weight = Parameter(initializer(init, (out_dim, in_dim)), name="weight")
        bound = 0.0 if zero else 1.0 / math.sqrt(in_dim)
        self.bias = Parameter(Tensor(np.random.default_rng(in_dim * 7919 + out_dim).uniform(
            -bound, bound, out_dim).astype(np.float32)), name="bias")

    def construct(self, x):
        return ops.dense(x, self.weight, self.bias)


def linear(x, layer):
    """``layer`` (an ``nn.Dense``, weight (out, in)) on the last axis of x (..., in).

    The leading axes are flattened into the layer's own 2-d product and restored with the batch as
    the reshape's -1 (a dynamic-batch export frees exactly that; ``nn.Dense`` on a 3-d input would
    restore them with the batch written out). A batched ``matmul`` against the weight instead
    broadcasts it over the batch, gradient included: measured 1.7x the memory per ViT-B block in training.
    """
    if len(x.shape) == 2:
        return layer(x)
    return layer(x.reshape(-1, x.shape[-1])).reshape((-1,) + tuple(x.shape[1:-1]) + (layer.weight.shape[0],))


class GELU(nn.Cell):
    """PyTorch's exact GELU: MindSpore's erf kernel in training (one kernel; the written-out form's dozen
    elementwise kernels took a third of a small transformer's training step here), the exportable
    :func:`gelu` otherwise (export and inference run in evaluation mode). The two differ by < 1.5e-7."""

    def construct(self, x):
        if self.training:
            return ops.gelu(x, approximate="none")
        return gelu(x)


def split_heads(x, heads):
    """(B, N, heads * d) -> (B, heads, N, d). The batch axis is the reshape's -1 (a dynamic-batch
    export frees nothing else, ``src/deployment/export.py``)."""
    return ops.transpose(x.reshape(-1, x.shape[1], heads, x.shape[2] // heads), (0, 2, 1, 3))


def merge_heads(x):
    """(B, heads, N, d) -> (B, N, heads * d)."""
    x = ops.transpose(x, (0, 2, 1, 3))
    return x.reshape(-1, x.shape[1], x.shape[2] * x.shape[3])


def attend(q, k, v, scale):
    """Scaled dot-product attention of (B, h, Nq, d) queries on (B, h, Nk, d) keys/values."""
    weights = ops.softmax(ops.matmul(q * scale, ops.swapaxes(k, -1, -2)), -1)
    return ops.matmul(weights, v)


def drop_path(x, keep_noise, rate):
    """Stochastic depth (timm's ``drop_path``): each sample's branch kept where its uniform
    ``keep_noise`` (B,) is >= ``rate``, scaled by 1 / (1 - rate); ``keep_noise=None`` keeps all."""
    if keep_noise is None or rate <= 0.0:
        return x
    keep = ops.cast(keep_noise >= rate, x.dtype).reshape(-1, 1, 1)
    return x * keep * (1.0 / (1.0 - rate))
