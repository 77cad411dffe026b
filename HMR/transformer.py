"""Transformer pieces shared by the ViT backbone and HMR 2.0's decoder head, written to export.

MindSpore 2.10's ONNX exporter has no ``Erf`` and no ``LayerNormExt``, so both are written out
here from operators it does export: layer normalisation from reductions and the exact (erf)
GELU of PyTorch's ``nn.GELU()`` from Abramowitz & Stegun's 7.1.26 rational approximation of erf
(absolute error below 1.5e-7; the tanh form would be off by up to 1e-3). Parameters are named
as in PyTorch (``weight``, ``bias``) so that converted state dicts map name for name.
"""
import math

import numpy as np
from mindspore import Parameter, Tensor, nn, ops

# erf(z) = 1 - (a1 t + ... + a5 t^5) exp(-z^2), t = 1 / (1 + p z), z >= 0 (A&S 7.1.26)
ERF_P = 0.3275911
ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
INV_SQRT2 = 1.0 / math.sqrt(2.0)


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


class LayerNorm(nn.Cell):
    """``nn.LayerNorm(dim, eps)`` over the last axis; parameters ``weight`` (gamma), ``bias`` (beta)."""

    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.weight = Parameter(Tensor(np.ones(dim, np.float32)), name="weight")
        self.bias = Parameter(Tensor(np.zeros(dim, np.float32)), name="bias")
        self.eps = eps

    def construct(self, x):
        centred = x - ops.mean(x, -1, keep_dims=True)
        variance = ops.mean(centred * centred, -1, keep_dims=True)
        return centred / ops.sqrt(variance + self.eps) * self.weight + self.bias


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
    def construct(self, x):
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
