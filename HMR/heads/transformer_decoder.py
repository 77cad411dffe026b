"""HMR 2.0's regression head (Goel et al. 2023; 4D-Humans ``SMPLTransformerDecoderHead``).

One query token attends to the backbone's token map through a pre-norm transformer decoder
(``depth`` layers of self-attention, cross-attention and feed-forward, each ``x = f(norm(x)) + x``;
attention ``heads`` x ``dim_head`` without qkv biases, an output projection with bias, GELU
feed-forward of width ``mlp_dim``). The query is a zero scalar through ``to_token_embedding``
(Linear 1 -> dim) plus ``pos_embedding`` (1, 1, dim). Linear readouts ``decpose`` (144, 6D),
``decshape`` (10) and ``deccam`` (3) are added to the mean parameters (buffers ``init_body_pose``,
``init_betas``, ``init_cam``), ``num_iterations`` times (HMR 2.0: 1). The 6D pose is read in HMR
2.0's layout (``HMR.geometry.ROT6D_LAYOUTS["hmr2"]``), the mean pose file's 144 numbers included,
as 4D-Humans does. Names follow 4D-Humans below ``smpl_head.`` (``transformer.transformer.layers.
{i}.{0,1,2}.norm|fn...``) so converted checkpoints map name for name.
"""
import numpy as np
from mindspore import Parameter, Tensor, nn, ops
from mindspore.common.initializer import Normal, initializer

from HMR.constants import NUM_BETAS, NUM_SMPL_JOINTS
from HMR.heads.iterative import SixDPose, dense_or_fast, mean_rot6d
from HMR.transformer import GELU, LayerNorm, attend, linear, merge_heads, split_heads

# HMR 2.0's SMPL_HEAD.TRANSFORMER_DECODER (hmr_vit_transformer.yaml)
DEPTH, HEADS, DIM_HEAD, DIM, MLP_DIM = 6, 8, 64, 1024, 1024
NORM_EPS = 1e-5       # torch nn.LayerNorm's default, as the decoder's PreNorm uses it


class SelfAttention(nn.Cell):
    def __init__(self, dim, heads, dim_head):
        super().__init__()
        self.heads, self.scale = heads, dim_head ** -0.5
        self.to_qkv = nn.Dense(dim, 3 * heads * dim_head, has_bias=False)
        self.to_out = nn.SequentialCell([nn.Dense(heads * dim_head, dim)])

    def construct(self, x, context=None):
        qkv = ops.split(linear(x, self.to_qkv), self.to_qkv.weight.shape[0] // 3, -1)
        q, k, v = (split_heads(t, self.heads) for t in qkv)
        return linear(merge_heads(attend(q, k, v, self.scale)), self.to_out[0])


class CrossAttention(nn.Cell):
    def __init__(self, dim, context_dim, heads, dim_head):
        super().__init__()
        self.heads, self.scale = heads, dim_head ** -0.5
        self.to_kv = nn.Dense(context_dim, 2 * heads * dim_head, has_bias=False)
        self.to_q = nn.Dense(dim, heads * dim_head, has_bias=False)
        self.to_out = nn.SequentialCell([nn.Dense(heads * dim_head, dim)])

    def construct(self, x, context=None):
        k, v = (split_heads(t, self.heads) for t in ops.split(linear(context, self.to_kv),
                                                              self.to_kv.weight.shape[0] // 2, -1))
        q = split_heads(linear(x, self.to_q), self.heads)
        return linear(merge_heads(attend(q, k, v, self.scale)), self.to_out[0])


class FeedForward(nn.Cell):
    """``net``: Linear, GELU, Dropout(0), Linear, Dropout(0) - indices 0 and 3 hold weights."""

    def __init__(self, dim, hidden):
        super().__init__()
        self.net = nn.SequentialCell([nn.Dense(dim, hidden), GELU(), nn.Identity(), nn.Dense(hidden, dim)])

    def construct(self, x, context=None):
        return linear(self.net[1](linear(x, self.net[0])), self.net[3])


class PreNorm(nn.Cell):
    def __init__(self, dim, fn):
        super().__init__()
        self.norm = LayerNorm(dim, NORM_EPS)
        self.fn = fn

    def construct(self, x, context=None):
        return self.fn(self.norm(x), context)


class CrossAttentionLayers(nn.Cell):
    """4D-Humans' ``TransformerCrossAttn``: ``layers.{i}`` = [self-attention, cross-attention, feed-forward]."""

    def __init__(self, dim, depth, heads, dim_head, mlp_dim, context_dim):
        super().__init__()
        self.layers = nn.CellList([nn.CellList([
            PreNorm(dim, SelfAttention(dim, heads, dim_head)),
            PreNorm(dim, CrossAttention(dim, context_dim, heads, dim_head)),
            PreNorm(dim, FeedForward(dim, mlp_dim))]) for _ in range(depth)])

    def construct(self, x, context):
        for layer in self.layers:
            x = layer[0](x) + x
            x = layer[1](x, context) + x
            x = layer[2](x) + x
        return x


class TransformerDecoder(nn.Cell):
    def __init__(self, dim, depth, heads, dim_head, mlp_dim, context_dim):
        super().__init__()
        self.to_token_embedding = nn.Dense(1, dim)
        self.pos_embedding = Parameter(initializer(Normal(1.0), (1, 1, dim)), name="pos_embedding")
        self.transformer = CrossAttentionLayers(dim, depth, heads, dim_head, mlp_dim, context_dim)

    def construct(self, token, context):
        return self.transformer(linear(token, self.to_token_embedding) + self.pos_embedding, context)


class SMPLTransformerDecoderHead(SixDPose, nn.Cell):
    """HMR 2.0's head.

    Args:
        feature_dim: channels of the backbone's token map (the context; 1280 for ViT-H).
        init_pose: (144,) mean 6D pose; init_shape: (10,); init_cam: (3,).
        num_iterations: readout iterations (HMR 2.0 ``IEF_ITERS`` 1).
        depth, heads, dim_head, dim, mlp_dim: the decoder (HMR 2.0: 6, 8, 64, 1024, 1024).
    Input: features (B, C, rows, columns) token map; noise: unused (no dropout in HMR 2.0's head);
        fast: tensors replacing the readouts' weights (``fast_layers`` order, ``HMR/heads/iterative.py``), or None;
        extra graph inputs (unused).
    Its 6D pose is decoded in HMR 2.0's layout (``pose_decoder``, with ``rot6d_layout``).
    Output: cam (B, 3) as (s, tx, ty); pose 6D (B, 144); betas (B, 10); the pose and betas of every
        iteration, (I * B, 144) and (I * B, 10), iteration-major.
    """

    takes_map = True
    rot6d_layout = "hmr2"
    fast_layers = ("decpose", "decshape", "deccam")      # Meta-HMR's fast parameters, if it adapts this head

    def __init__(self, feature_dim, init_pose, init_shape, init_cam, num_iterations=1, depth=DEPTH, heads=HEADS,
                 dim_head=DIM_HEAD, dim=DIM, mlp_dim=MLP_DIM):
        super().__init__()
        npose = 6 * NUM_SMPL_JOINTS
        self.transformer = TransformerDecoder(dim, depth, heads, dim_head, mlp_dim, feature_dim)
        self.decpose = nn.Dense(dim, npose)
        self.decshape = nn.Dense(dim, NUM_BETAS)
        self.deccam = nn.Dense(dim, 3)
        self.init_body_pose = Parameter(Tensor(np.asarray(init_pose, np.float32).reshape(1, npose)),
                                        name="init_body_pose", requires_grad=False)
        self.init_betas = Parameter(Tensor(np.asarray(init_shape, np.float32).reshape(1, NUM_BETAS)),
                                    name="init_betas", requires_grad=False)
        self.init_cam = Parameter(Tensor(np.asarray(init_cam, np.float32).reshape(1, 3)), name="init_cam",
                                  requires_grad=False)
        self.num_iterations = num_iterations

    @classmethod
    def from_mean_params(cls, feature_dim, mean_params, num_iterations=1, train_mean_params=True, **decoder):
        """The head from ``{"rotmats", "shape", "cam"}`` (the registry's ``hmr2``; the 144 mean-pose numbers
        are SPIN's file layout, read as they are); ``decoder``: ``depth``, ``heads``, ``dim_head``, ``dim``,
        ``mlp_dim``. The mean parameters are frozen buffers, as in 4D-Humans."""
        return cls(feature_dim, *mean_rot6d(mean_params), num_iterations, **decoder)

    def construct(self, features, noise=None, fast=None, *extra):
        context = ops.transpose(features.reshape(-1, features.shape[1], features.shape[2] * features.shape[3]),
                                (0, 2, 1))                                          # (B, rows * cols, C)
        zero = context[:, :1, :1] * 0.0                                             # (B, 1, 1) zero query
        pose = self.init_body_pose + zero[:, 0]
        shape, cam = self.init_betas + zero[:, 0], self.init_cam + zero[:, 0]
        poses, shapes = [], []
        for _ in range(self.num_iterations):
            token = self.transformer(zero, context)[:, 0]                           # (B, dim)
            pose = dense_or_fast(self.decpose, token, fast, 0) + pose
            shape = dense_or_fast(self.decshape, token, fast, 1) + shape
            cam = dense_or_fast(self.deccam, token, fast, 2) + cam
            poses.append(pose)
            shapes.append(shape)
        if self.num_iterations == 1:                    # (a one-tensor concat makes the compiler print its tuple)
            return cam, pose, shape, pose, shape
        return cam, pose, shape, ops.concat(poses, 0), ops.concat(shapes, 0)
