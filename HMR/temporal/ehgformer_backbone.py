"""EHGFormer's backbone (``Brian417-cup/EHGFormer``, ``lib/model/mixste_model_plus_2_plus.py::MixSTE2`` with
``spatial_mode: hyper_dependent_common``, ``--version 2``): MixSTE's alternating spatial and temporal
transformer with two additions in every spatial block, a learned skeleton *relation bias* on the joint
attention and a *hyperedge attention* block (joints attend to the features of hand-labelled joint groups).

Data flow, x (N, T, 17, 3) = (x, y, confidence) of the H36M-17 joints:

1. ``Spatial_patch_to_embedding`` Linear(3 -> C) + ``Spatial_pos_embed`` (1, 17, C);
2. for i in 0..depth-1: ``STEblocks[i]`` over the joints of each frame, ``Spatial_norm``; then over the
   frames of each joint ``TTEblocks[i]`` (block 0 first adds ``Temporal_pos_embed[:, :T]``, at most
   :data:`MAX_FRAMES` frames), ``Temporal_norm``. The two norms are shared by all blocks, as in the original.
3. Output: the representation (N, T, 17, C) (``get_representation``; the 3-D pose head of MixSTE2 is not
   used by the mesh model and not built).

Each ``STEblocks[i]`` is ``common_attn_blk`` (pre-norm self-attention whose logits are
``(q k^T + alpha * outer) * scale``, ``outer`` (heads, 17, 17) initialised from the skeleton graph,
:func:`skeleton_adjacency`, or the identity for relation bias ``none``; then an MLP) followed by
``hyper_attn_blk`` (:class:`HyperAttnBlock`).

Parameter names are the original's (``backbone.`` + its module path), so a converted state dict maps name
for name (BatchNorm aside). Tensors keep (N, T, ...) leading axes; the original's ``[N*T, V, C]`` tensors are
the same memory as (N, T, V, C) ones, so its memory-reinterpreting reshapes are written as
``reshape(N, T, ...)`` of the last two axes - the exported graph stays dynamic in N and T
(``src/deployment/dynamic_onnx.py``).

Regularisation in training as the original: stochastic depth rising linearly from 0 to ``drop_path_rate``
over the blocks; the spatial blocks also use their block's rate as their projection/MLP dropout (the
original passes ``drop_rate=dpr[i]`` to both). The dropout masks come from MindSpore's random state, not from
the checkpoint: a resumed run continues with fresh masks.
"""
import os

import numpy as np
from mindspore import Parameter, Tensor, nn, ops

from HMR.transformer import GELU, LayerNorm, Linear

NUM_JOINTS = 17
MAX_FRAMES = 243                 # Temporal_pos_embed length (EHGFormer's maxlen)
NORM_EPS = 1e-6                  # partial(nn.LayerNorm, eps=1e-6) everywhere in MixSTE2
# H36M-17 parents as EHGFormer's graph/skeleton.py::get_skeleton_h36m builds them (root's parent -1)
H36M_PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
RELATION_BIASES = ("uniform", "none")
JOINT_LABEL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "joint_labels")
JOINT_LABEL_SETS = ("manual1", "manual2")


def skeleton_adjacency(parents=H36M_PARENTS):
    """(V, V) skeleton graph as EHGFormer's ``Graph(strategy='uniform', max_hop=1)`` builds it:
    self-links plus each (child, parent) edge in both directions, column-normalised (``A D^-1``).

    The root's parent -1 is used as an index the way numpy uses it, so the root is linked to the last
    joint (the right wrist in H36M-17): the original's adjacency has that edge and its ``outer``
    parameters start from it.
    """
    count = len(parents)
    adjacency = np.eye(count)
    for child, parent in enumerate(parents):
        adjacency[child, parent] = adjacency[parent, child] = 1.0
    return adjacency / adjacency.sum(0, keepdims=True)


def read_joint_labels(name):
    """(17,) int hyperedge label per joint of the label set ``name`` (``joint_labels/<name>.yaml``)."""
    import yaml
    if name not in JOINT_LABEL_SETS:
        raise ValueError(f"joint label set must be one of {JOINT_LABEL_SETS}, got {name!r}")
    with open(os.path.join(JOINT_LABEL_DIR, f"{name}.yaml"), encoding="utf-8") as handle:
        labels = np.asarray(yaml.safe_load(handle)["joint_label"], np.int64)
    if labels.shape != (1, NUM_JOINTS):
        raise ValueError(f"{name}.yaml: joint_label must be one list of {NUM_JOINTS} labels, got {labels.shape}")
    return labels[0]


def one_hot_labels(labels):
    """(V,) labels -> (V, E) one-hot hyperedge membership (``F.one_hot(joint_label)``, E = max label + 1)."""
    return np.eye(int(labels.max()) + 1, dtype=np.float32)[labels]


class DropPath(nn.Cell):
    """Stochastic depth on (N, T, 17, C): each sample of the block's attention - a frame (``axis="joints"``)
    or a joint's track (``"frames"``) - keeps its branch with probability 1 - rate, scaled by
    1 / (1 - rate); identity in evaluation."""

    def __init__(self, rate, axis):
        super().__init__()
        self.rate = float(rate)
        self.per_frame = axis == "joints"
        self.dropout = nn.Dropout(p=self.rate) if self.rate > 0 else None

    def construct(self, x):
        if self.dropout is None or not self.training:
            return x
        ones = ops.ones_like(x[:, :, :1, :1]) if self.per_frame else ops.ones_like(x[:, :1, :, :1])
        return x * self.dropout(ones)


class Mlp(nn.Cell):
    """``fc1``, exact GELU, dropout, ``fc2``, dropout."""

    def __init__(self, dim, hidden, drop=0.0):
        super().__init__()
        self.fc1, self.fc2 = Linear(dim, hidden), Linear(hidden, dim)
        self.act = GELU()
        self.drop = nn.Dropout(p=drop) if drop > 0 else nn.Identity()

    def construct(self, x):
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


# Attention over one axis of (N, T, 17, C): q, k and v each reshaped to (N, T, 17, heads, d) - heads split the
# channels head-major, as the original's reshape(B, L, 3, h, C/h) - and permuted to (N, other axis, heads, L, d).
# Every reshape keeps (N, T) in front, the form an exported graph can free (src/deployment/dynamic_onnx.py).
TO_HEADS = {"joints": (0, 1, 3, 2, 4), "frames": (0, 2, 3, 1, 4)}
FROM_HEADS = {"joints": (0, 1, 3, 2, 4), "frames": (0, 3, 1, 2, 4)}


class Attention(nn.Cell):
    """Multi-head self-attention of (N, T, 17, C) tokens over the joints of each frame (``axis="joints"``,
    ``trans_spatial.py::Attention``) or over the frames of each joint (``"frames"``,
    ``trans_temporal.py::Attention``). With ``relation`` (a (17, 17) array) the logits get
    ``alpha * outer`` before scaling, ``outer`` (heads, 17, 17) initialised to ``relation`` per head and
    ``alpha`` to 1."""

    def __init__(self, dim, heads, axis, relation=None, proj_drop=0.0):
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.to_heads, self.from_heads = TO_HEADS[axis], FROM_HEADS[axis]
        self.qkv = Linear(dim, 3 * dim)
        self.proj = Linear(dim, dim)
        self.proj_drop = nn.Dropout(p=proj_drop) if proj_drop > 0 else nn.Identity()
        self.relation = relation is not None
        if self.relation:
            self.outer = Parameter(Tensor(np.stack([relation] * heads).astype(np.float32)), name="outer")
            self.alpha = Parameter(Tensor(np.ones(1, np.float32)), name="alpha")

    def construct(self, x):
        n, t, joints, channels = x.shape
        q, k, v = (ops.transpose(part.reshape(n, t, joints, self.heads, channels // self.heads), self.to_heads)
                   for part in ops.split(self.qkv(x), channels, -1))
        logits = ops.matmul(q, ops.swapaxes(k, -1, -2))
        if self.relation:
            logits = logits + self.alpha * self.outer
        out = ops.matmul(ops.softmax(logits * self.scale, -1), v)
        return self.proj_drop(self.proj(ops.transpose(out, self.from_heads).reshape(n, t, joints, channels)))


class Block(nn.Cell):
    """Pre-norm transformer block: ``x + drop_path(attn(norm1 x))``, ``x + drop_path(mlp(norm2 x))``; the
    attention runs over ``axis`` of (N, T, 17, C)."""

    def __init__(self, dim, heads, mlp_ratio, drop_path, axis, drop=0.0, relation=None):
        super().__init__()
        self.norm1, self.norm2 = LayerNorm(dim, NORM_EPS), LayerNorm(dim, NORM_EPS)
        self.attn = Attention(dim, heads, axis, relation, drop)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)
        self.drop_path = DropPath(drop_path, axis)

    def construct(self, x):
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class HyperEdge(nn.Cell):
    """Hyperedge features broadcast to their member joints (``HyperEdge.get_hyper_feature``, one hyper head):
    the mean of each hyperedge's member joints, a bias-free projection ``pro_linears.0``, copied back to every
    member. ``hyper_matrix`` (17, E) is the one-hot membership (fixed, stored in the checkpoint as in the
    original; it tells which joint-label file a checkpoint was trained with)."""

    def __init__(self, dim, labels):
        super().__init__()
        self.hyper_matrix = Parameter(Tensor(one_hot_labels(labels)), name="hyper_matrix", requires_grad=False)
        self.pro_linears = nn.CellList([_BiasFreeLinear(dim, dim)])

    def construct(self, x):
        """x (N, T, 17, C) -> f_e (N, T, 17, C)."""
        members = self.hyper_matrix
        mean_of_members = members / ops.sum(members, 0, keepdim=True)                 # (17, E)
        edges = ops.matmul(ops.swapaxes(mean_of_members, 0, 1), x)                     # (N, T, E, C)
        return ops.matmul(members, self.pro_linears[0](edges))


class _BiasFreeLinear(nn.Cell):
    def __init__(self, in_dim, out_dim):
        super().__init__()
        self.weight = Linear(in_dim, out_dim).weight

    def construct(self, x):
        return ops.dense(x, self.weight)


class HyperAttention(nn.Cell):
    """Joint-to-hyperedge attention (``HyperAttention.forward`` with ``j2e_main`` and ``j2e_bias``): logits
    ``(q e_k^T + w1 . e_k) * scale`` - queries from the joints, keys from their hyperedge features, a per-key
    bias ``w1`` (heads, C / heads) - values from the joints. The original builds q, k, v and e_k with
    ``reshape(-1, h, C/h, V)`` of [N*T, V, C] tensors: a reinterpretation of the (V, C) memory, not a
    transpose, reproduced here because the weights were trained with it. Its joint-joint term is computed
    there but never added, so it is not computed here."""

    def __init__(self, dim, heads, proj_drop=0.0):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.scale = self.head_dim ** -0.5
        self.w1 = Parameter(Tensor(np.zeros((heads, self.head_dim), np.float32)), name="w1")
        self.kv = Linear(dim, 2 * dim)
        self.q = Linear(dim, dim)
        self.proj = Linear(dim, dim)
        self.proj_drop = nn.Dropout(p=proj_drop) if proj_drop > 0 else nn.Identity()

    def _as_heads(self, x, parts=None):
        """(N, T, V, parts * C) -> memory read as (N, T, [parts,] h, C/h, V), then the last two axes swapped."""
        n, t, joints = x.shape[0], x.shape[1], x.shape[2]
        middle = (self.heads, self.head_dim, joints) if parts is None else (parts, self.heads, self.head_dim, joints)
        return ops.swapaxes(x.reshape((n, t) + middle), -1, -2)

    def construct(self, x, edges):
        """x (N, T, V, C) normalised joint features, edges (N, T, V, C) hyperedge features -> (N, T, V, C)."""
        v = self._as_heads(self.kv(x), 2)[:, :, 1]                              # (N, T, h, V, d); keys unused
        q = self._as_heads(self.q(x))                                           # (N, T, h, V, d)
        e_k = self._as_heads(edges)
        key_bias = ops.expand_dims(ops.sum(e_k * ops.expand_dims(self.w1, 1), -1), -2)     # (N, T, h, 1, V)
        weights = ops.softmax((ops.matmul(q, ops.swapaxes(e_k, -1, -2)) + key_bias) * self.scale, -1)
        out = ops.swapaxes(ops.matmul(weights, v), -1, -2)                      # (N, T, h, d, V)
        n, t, joints = x.shape[0], x.shape[1], x.shape[2]
        out = ops.swapaxes(out.reshape(n, t, self.heads * self.head_dim, joints), -1, -2)
        return self.proj_drop(self.proj(out))


class HyperAttnBlock(nn.Cell):
    """``f_e = hyper_edge(x)``; ``x + drop_path(attn(norm1 x, f_e))``; ``x + drop_path(mlp(norm2 x))``
    (MLP without dropout, as the original's)."""

    def __init__(self, dim, heads, mlp_ratio, labels, drop_path, drop=0.0):
        super().__init__()
        self.norm1, self.norm2 = LayerNorm(dim, NORM_EPS), LayerNorm(dim, NORM_EPS)
        self.hyper_edge = HyperEdge(dim, labels)
        self.attn = HyperAttention(dim, heads, drop)
        self.mlp = Mlp(dim, int(mlp_ratio * dim))
        self.drop_path = DropPath(drop_path, "joints")

    def construct(self, x):
        edges = self.hyper_edge(x)
        x = x + self.drop_path(self.attn(self.norm1(x), edges))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class CommonAndHyperSpatialTrans(nn.Cell):
    """One spatial block: ``common_attn_blk`` (self-attention with the relation bias) then ``hyper_attn_blk``."""

    def __init__(self, dim, heads, mlp_ratio, relation, labels, rate):
        super().__init__()
        self.common_attn_blk = Block(dim, heads, mlp_ratio, rate, "joints", rate, relation)
        self.hyper_attn_blk = HyperAttnBlock(dim, heads, mlp_ratio, labels, rate, rate)

    def construct(self, x):
        return self.hyper_attn_blk(self.common_attn_blk(x))


class MixSTE2(nn.Cell):
    """See the module docstring.

    Args:
        labels: (17,) hyperedge label per joint (:func:`read_joint_labels`).
        relation_bias: ``uniform`` (``outer`` starts from the skeleton graph) or ``none`` (identity).
        dim, depth, heads, mlp_ratio: width (EHGFormer's ``dim_rep``), blocks, heads, MLP factor.
        drop_path_rate: stochastic depth of the last block (0.1 in EHGFormer's training).
        in_chans: 3 (x, y, confidence).
    """

    def __init__(self, labels, relation_bias="uniform", dim=128, depth=6, heads=8, mlp_ratio=2.0,
                 drop_path_rate=0.1, in_chans=3, max_frames=MAX_FRAMES):
        super().__init__()
        if relation_bias not in RELATION_BIASES:
            raise ValueError(f"relation bias must be one of {RELATION_BIASES}, got {relation_bias!r}")
        if dim % heads:
            raise ValueError(f"width {dim} is not a multiple of {heads} heads")
        relation = skeleton_adjacency() if relation_bias == "uniform" else np.eye(NUM_JOINTS)
        rates = np.linspace(0.0, drop_path_rate, depth)
        self.dim, self.depth = dim, depth
        self.Spatial_patch_to_embedding = Linear(in_chans, dim)
        self.Spatial_pos_embed = Parameter(Tensor(np.zeros((1, NUM_JOINTS, dim), np.float32)), name="Spatial_pos_embed")
        self.Temporal_pos_embed = Parameter(Tensor(np.zeros((1, max_frames, dim), np.float32)),
                                            name="Temporal_pos_embed")
        self.STEblocks = nn.CellList([CommonAndHyperSpatialTrans(dim, heads, mlp_ratio, relation, labels, float(r))
                                      for r in rates])
        self.TTEblocks = nn.CellList([Block(dim, heads, mlp_ratio, float(r), "frames") for r in rates])
        self.Spatial_norm = LayerNorm(dim, NORM_EPS)
        self.Temporal_norm = LayerNorm(dim, NORM_EPS)

    def construct(self, x):
        """x (N, T, 17, in_chans) -> representation (N, T, 17, dim)."""
        x = self.Spatial_patch_to_embedding(x) + self.Spatial_pos_embed
        for i in range(self.depth):
            x = self.Spatial_norm(self.STEblocks[i](x))
            if i == 0:
                # (T, 1, C) broadcast; an exported ONNX slice end is freed to the input's T (dynamic_onnx.py)
                x = x + ops.swapaxes(self.Temporal_pos_embed[:, :x.shape[1]], 0, 1)
            x = self.Temporal_norm(self.TTEblocks[i](x))
        return x

