"""The plain ViT of ViTPose (Xu et al. 2022) as HMR 2.0 uses it (4D-Humans ``hmr2/models/backbones/vit.py``).

ViTPose-style: patch embedding by a 16 x 16 stride-16 convolution with ``patch_padding`` (2 in
ViTPose and HMR 2.0, whose 256 x 192 input then gives 16 x 12 tokens; 0 for MAE-style weights
such as HAP's), no class token, absolute position embeddings stored with a class-token slot
(``pos_embed`` (1, 1 + tokens, C)) and added as ``pos_embed[:, 1:] + pos_embed[:, :1]`` (the
4D-Humans quirk), pre-norm blocks (LayerNorm eps 1e-6, multi-head attention with a qkv bias,
MLP ratio 4 with exact GELU), stochastic depth rising linearly from 0 to ``drop_path_rate``
over the blocks, and a final ``last_norm``. Parameter names are 4D-Humans' (``patch_embed.proj``,
``pos_embed``, ``blocks.{i}.norm1|attn.qkv|attn.proj|norm2|mlp.fc1|mlp.fc2``, ``last_norm``).

Stochastic depth is driven by explicit uniform noise, as the regressors' dropout is
(``HMR/heads/iterative.py``): ``noise`` (2, B, depth) - ``noise[0, :, i]`` for block i's attention
branch and ``noise[1, :, i]`` for its MLP - so training stays exactly reproducible and resumable.
"""
import numpy as np
from mindspore import Parameter, Tensor, nn, ops
from mindspore.common.initializer import TruncatedNormal, initializer

from HMR.transformer import GELU, LayerNorm, attend, drop_path, linear, merge_heads, split_heads

PATCH = 16
NORM_EPS = 1e-6
MLP_RATIO = 4
# name -> (width, depth, heads, drop path rate of HMR 2.0 / ViTPose); ViTPose-B/L/H
SIZES = {"vit_b16": (768, 12, 12, 0.3), "vit_l16": (1024, 24, 16, 0.5), "vit_h16": (1280, 32, 16, 0.55)}


class Mlp(nn.Cell):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Dense(dim, hidden)
        self.act = GELU()
        self.fc2 = nn.Dense(hidden, dim)

    def construct(self, x):
        return linear(self.act(linear(x, self.fc1)), self.fc2)


class Attention(nn.Cell):
    """Self-attention over (B, N, C) tokens, ``qkv`` (3C, C) with bias, ``proj`` (C, C)."""

    def __init__(self, dim, heads):
        super().__init__()
        if dim % heads:
            raise ValueError(f"ViT width {dim} is not a multiple of {heads} heads")
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.qkv = nn.Dense(dim, 3 * dim)
        self.proj = nn.Dense(dim, dim)

    def construct(self, x):
        q, k, v = (split_heads(part, self.heads) for part in ops.split(linear(x, self.qkv), x.shape[-1], -1))
        return linear(merge_heads(attend(q, k, v, self.scale)), self.proj)


class Block(nn.Cell):
    def __init__(self, dim, heads, drop_path_rate):
        super().__init__()
        self.norm1 = LayerNorm(dim, NORM_EPS)
        self.attn = Attention(dim, heads)
        self.norm2 = LayerNorm(dim, NORM_EPS)
        self.mlp = Mlp(dim, dim * MLP_RATIO)
        self.drop_path_rate = drop_path_rate

    def construct(self, x, attn_noise=None, mlp_noise=None):
        x = x + drop_path(self.attn(self.norm1(x)), attn_noise, self.drop_path_rate)
        return x + drop_path(self.mlp(self.norm2(x)), mlp_noise, self.drop_path_rate)


class PatchEmbed(nn.Cell):
    def __init__(self, dim, padding):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, PATCH, stride=PATCH, pad_mode="pad", padding=padding, has_bias=True)

    def construct(self, x):
        return self.proj(x)


def token_grid(crop, padding):
    """(rows, columns) of tokens for a (height, width) input: the convolution's output size."""
    return tuple((side + 2 * padding - PATCH) // PATCH + 1 for side in crop)


class ViT(nn.Cell):
    """ViTPose's ViT.

    Args:
        name: ``vit_b16``, ``vit_l16`` or ``vit_h16`` (the default width, depth, heads, drop path).
        crop: (height, width) of the input in pixels (HMR 2.0: 256 x 192).
        width, depth, heads: override the named size (0 = its own; small networks for tests).
        patch_padding: the patch convolution's padding (2: ViTPose / HMR 2.0; 0: MAE / HAP).
        drop_path_rate: stochastic depth of the last block (< 0 = the named size's).
        pooled: output the token average (B, C) instead of the map, for the iterative heads.
    Input: images (B, 3, H, W) normalised RGB; noise (2, B, depth) uniform, or None (no drop path).
    Output: (B, C, rows, columns) token map (16 x 12 at 256 x 192), or (B, C) when ``pooled``;
        ``feature_dim`` = C.
    """

    takes_noise = True

    def __init__(self, name="vit_h16", crop=(256, 192), width=0, depth=0, heads=0, patch_padding=2,
                 drop_path_rate=-1.0, pooled=False):
        super().__init__()
        if name not in SIZES:
            raise ValueError(f"unknown ViT size {name!r}; known: {', '.join(SIZES)}")
        default_width, default_depth, default_heads, default_rate = SIZES[name]
        width, depth, heads = width or default_width, depth or default_depth, heads or default_heads
        rate = default_rate if drop_path_rate < 0 else drop_path_rate
        self.grid = token_grid(crop, patch_padding)
        self.feature_dim, self.depth, self.pooled = width, depth, pooled
        self.early_dim = width
        self.patch_embed = PatchEmbed(width, patch_padding)
        self.pos_embed = Parameter(initializer(TruncatedNormal(0.02), (1, 1 + self.grid[0] * self.grid[1], width)),
                                   name="pos_embed")
        rates = np.linspace(0.0, rate, depth) if depth > 1 else np.zeros(depth)
        self.blocks = nn.CellList([Block(width, heads, float(r)) for r in rates])
        self.last_norm = LayerNorm(width, NORM_EPS)

    def _embed(self, x):
        """Patch embedding and position: images -> tokens (B, rows * cols, C)."""
        tokens = self.patch_embed(x)                                            # (B, C, rows, cols)
        tokens = ops.transpose(tokens.reshape(-1, self.feature_dim, self.grid[0] * self.grid[1]), (0, 2, 1))
        return tokens + self.pos_embed[:, 1:] + self.pos_embed[:, :1]

    def _blocks(self, tokens, noise, first, last):
        for i in range(first, last):
            if noise is None:
                tokens = self.blocks[i](tokens)
            else:
                tokens = self.blocks[i](tokens, noise[0, :, i], noise[1, :, i])
        return tokens

    def _to_map(self, tokens):
        return ops.transpose(tokens, (0, 2, 1)).reshape(-1, self.feature_dim, self.grid[0], self.grid[1])

    def early(self, x, noise=None):
        """HAP's early features (``forward_features(x)``): patch embedding, position and block 0 -> the token map
        (B, C, rows, cols); ``early_dim`` = C."""
        return self._to_map(self._blocks(self._embed(x), noise, 0, 1))

    def late(self, feature_map, noise=None):
        """HAP's ``forward_features(x, skip_early=True)``: blocks 1.. and ``last_norm`` on a token map
        (B, C, rows, cols) -> (B, C, rows, cols)."""
        tokens = ops.transpose(feature_map.reshape(-1, self.feature_dim, self.grid[0] * self.grid[1]), (0, 2, 1))
        return self._to_map(self.last_norm(self._blocks(tokens, noise, 1, self.depth)))

    def construct(self, x, noise=None):
        tokens = self.last_norm(self._blocks(self._embed(x), noise, 0, self.depth))
        if self.pooled:
            return ops.mean(tokens, 1)
        return self._to_map(tokens)


def build_vit(name):
    """The registry's constructor of ViT size ``name`` (``HMR/backbones/__init__.py``)."""
    def factory(crop=(256, 192), width=0, depth=0, heads=0, patch_padding=2, drop_path_rate=-1.0, pooled=False):
        return ViT(name, crop, width, depth, heads, patch_padding, drop_path_rate, pooled)
    factory.__name__ = name
    return factory


vit_b16, vit_l16, vit_h16 = (build_vit(n) for n in SIZES)
