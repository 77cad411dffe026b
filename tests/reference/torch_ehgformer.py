"""PyTorch reference of EHGFormer's mesh refine model (``Brian417-cup/EHGFormer``: ``MeshRegressor`` of
``lib/model/model_mesh_refine.py`` on ``MixSTE2`` of ``lib/model/mixste_model_plus_2_plus.py`` with
``spatial_mode hyper_dependent_common``), module names as the original's so that its ``state_dict()`` has the
release's keys. Written from the original's definitions (SEED_SYSTEMS_FACTS section 3), in its layouts: the
spatial blocks work on [N*T, V, C] tensors and the hyperedge attention reads them with
``reshape(-1, h, C/h, V)``; the skeleton graph is built by replaying ``graph/graph.py`` (an edge list with
the root's parent -1, a hop-distance matrix, ``A @ D^-1``); the 6D pair is pytorch3d's rows in, SPIN's
columns out; SMPL is smplx's. Evaluation only (no dropout, no drop path).
"""
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from tests.reference.torch_hmr2 import Mlp          # fc1, GELU, fc2: EHGFormer's Mlp without dropout

H36M_PARENTS = [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15]
JOINT_LABELS = {"manual1": [0, 1, 1, 1, 2, 2, 2, 0, 0, 3, 3, 4, 4, 4, 5, 5, 5],
                "manual2": [0, 0, 0, 0, 0, 0, 0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2]}


def uniform_graph(parents=H36M_PARENTS):
    """[1, V, V] as ``Graph(skeleton, strategy='uniform', max_hop=1)``: edges = self links + (child, parent)."""
    num = len(parents)
    edges = [(i, i) for i in range(num)] + [(c, p) for c, p in enumerate(parents)]
    adjacency = np.zeros((num, num))
    for i, j in edges:
        adjacency[j, i] = 1
        adjacency[i, j] = 1
    hop = np.full((num, num), np.inf)
    reach = np.stack([np.linalg.matrix_power(adjacency, d) for d in range(2)]) > 0
    for d in (1, 0):
        hop[reach[d]] = d
    linked = np.zeros((num, num))
    linked[hop <= 1] = 1
    degree = linked.sum(0)
    return (linked @ np.diag(1.0 / degree))[None]


class Attention(nn.Module):
    def __init__(self, dim, heads, graph=None):
        super().__init__()
        self.num_heads, self.scale = heads, (dim // heads) ** -0.5
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.graph = graph is not None
        if self.graph:
            self.outer = nn.Parameter(torch.stack([torch.from_numpy(graph.sum(0)).float()] * heads))
            self.alpha = nn.Parameter(torch.ones(1))

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        logits = q @ k.transpose(-2, -1)
        if self.graph:
            logits = logits + self.alpha * self.outer
        attn = (logits * self.scale).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio, graph=None):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads, graph)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class HyperEdge(nn.Module):
    def __init__(self, dim, labels):
        super().__init__()
        self.joint_label = nn.Parameter(torch.tensor(labels), requires_grad=False)
        self.hyper_matrix = nn.Parameter(F.one_hot(self.joint_label).float(), requires_grad=False)
        self.pro_linears = nn.ModuleList([nn.Linear(dim, dim, bias=False)])
        self.merge_weight = nn.Parameter(torch.ones(1), requires_grad=False)

    def forward(self, x):
        x = x.permute(0, 2, 1)
        label = F.one_hot(self.joint_label).float()
        z = x @ (label / label.sum(dim=0, keepdim=True))
        z = self.pro_linears[0](z.permute(0, 2, 1)).permute(1, 0, 2)
        return z[self.joint_label].permute(1, 0, 2)


class HyperAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.num_heads, self.dim = heads, dim
        self.scale = (dim // heads) ** -0.5
        self.w1 = nn.Parameter(torch.zeros(heads, dim // heads))
        self.kv, self.q, self.proj = nn.Linear(dim, 2 * dim), nn.Linear(dim, dim), nn.Linear(dim, dim)

    def forward(self, x, e):
        _, v_count, _ = x.shape
        h, d = self.num_heads, self.dim // self.num_heads
        kv = self.kv(x).reshape(-1, 2, h, d, v_count).permute(1, 0, 2, 4, 3)
        v = kv[1]
        q = self.q(x).reshape(-1, h, d, v_count).permute(0, 1, 3, 2)
        e_k = e.reshape(-1, h, d, v_count).permute(0, 1, 3, 2)
        c = q @ e_k.transpose(-1, -2)
        bias = torch.einsum("hc,bhmc->bhm", self.w1, e_k).unsqueeze(-2)
        attn = ((c + bias) * self.scale).softmax(dim=-1)
        out = (attn @ v).transpose(2, 3).reshape(-1, self.dim, v_count).transpose(1, 2)
        return self.proj(out)


class HyperAttnBlock(nn.Module):
    def __init__(self, dim, heads, mlp_ratio, labels):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(mlp_ratio * dim))
        self.hyper_edge = HyperEdge(dim, labels)
        self.attn = HyperAttention(dim, heads)

    def forward(self, x):
        f_e = self.hyper_edge(x)
        x = x + self.attn(self.norm1(x), f_e)
        return x + self.mlp(self.norm2(x))


class CommonAndHyperSpatialTrans(nn.Module):
    def __init__(self, dim, heads, mlp_ratio, graph, labels):
        super().__init__()
        self.common_attn_blk = Block(dim, heads, mlp_ratio, graph)
        self.hyper_attn_blk = HyperAttnBlock(dim, heads, mlp_ratio, labels)

    def forward(self, x):
        return self.hyper_attn_blk(self.common_attn_blk(x))


class MixSTE2(nn.Module):
    def __init__(self, labels, graph_mode="uniform", dim=128, depth=6, heads=8, mlp_ratio=2.0, num_frame=243):
        super().__init__()
        graph = uniform_graph() if graph_mode == "uniform" else np.eye(17)[None]
        self.Spatial_patch_to_embedding = nn.Linear(3, dim)
        self.Spatial_pos_embed = nn.Parameter(torch.zeros(1, 17, dim))
        self.Temporal_pos_embed = nn.Parameter(torch.zeros(1, num_frame, dim))
        self.STEblocks = nn.ModuleList([CommonAndHyperSpatialTrans(dim, heads, mlp_ratio, graph, labels)
                                        for _ in range(depth)])
        self.TTEblocks = nn.ModuleList([Block(dim, heads, mlp_ratio) for _ in range(depth)])
        self.Spatial_norm = nn.LayerNorm(dim, eps=1e-6)
        self.Temporal_norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 3))     # unused by the mesh model
        self.depth = depth

    def get_representation(self, x):
        b, f, n, _ = x.shape
        x = self.Spatial_patch_to_embedding(x.reshape(b * f, n, -1)) + self.Spatial_pos_embed
        for i in range(self.depth):
            x = self.Spatial_norm(self.STEblocks[i](x))
            x = x.reshape(b, f, n, -1).permute(0, 2, 1, 3).reshape(b * n, f, -1)
            if i == 0:
                x = x + self.Temporal_pos_embed[:, :f, :]
            x = self.Temporal_norm(self.TTEblocks[i](x))
            x = x.reshape(b, n, f, -1).permute(0, 2, 1, 3).reshape(b * f, n, -1)
        return x.reshape(b, f, n, -1)


def axis_angle_to_matrix(axis_angle):
    """pytorch3d's: through the quaternion (cos(a/2), sin(a/2) / a * v)."""
    angles = torch.norm(axis_angle, p=2, dim=-1, keepdim=True)
    half = angles * 0.5
    small = angles.abs() < 1e-6
    sin_half_over = torch.empty_like(angles)
    sin_half_over[~small] = torch.sin(half[~small]) / angles[~small]
    sin_half_over[small] = 0.5 - (angles[small] * angles[small]) / 48
    r, i, j, k = torch.unbind(torch.cat([torch.cos(half), axis_angle * sin_half_over], -1), -1)
    two_s = 2.0 / (r * r + i * i + j * j + k * k)
    o = torch.stack((1 - two_s * (j * j + k * k), two_s * (i * j - k * r), two_s * (i * k + j * r),
                     two_s * (i * j + k * r), 1 - two_s * (i * i + k * k), two_s * (j * k - i * r),
                     two_s * (i * k - j * r), two_s * (j * k + i * r), 1 - two_s * (i * i + j * j)), -1)
    return o.reshape(axis_angle.shape[:-1] + (3, 3))


def smpl_aa_to_ortho6d(smpl_aa):
    rotmat = axis_angle_to_matrix(smpl_aa.reshape([-1, 24, 3]))
    return rotmat[..., :2, :].clone().reshape(rotmat.shape[:-2] + (6,)).reshape(-1, 24 * 6)


def rot6d_to_rotmat(x):
    """``rot6d_to_rotmat_for_deployment`` (``reshape``: the training version's ``view`` fails for N = 1)."""
    x = x.reshape(-1, 3, 2)
    b1 = F.normalize(x[:, :, 0], dim=1, eps=1e-6)
    b2 = F.normalize(x[:, :, 1] - torch.sum(b1 * x[:, :, 1], dim=1, keepdim=True) * b1, dim=-1, eps=1e-6)
    return torch.stack([b1, b2, torch.cross(b1, b2, dim=1)], dim=-1)


class SMPLRegressor(nn.Module):
    def __init__(self, smpl, j_regressor_h36m, dim_rep=128, hidden_dim=1024):
        super().__init__()
        self.fc1 = nn.Linear(17 * dim_rep, hidden_dim)
        self.fc2 = nn.Conv1d(144, hidden_dim, kernel_size=5, stride=1, padding=2)
        self.bn1, self.bn2 = nn.BatchNorm1d(hidden_dim), nn.BatchNorm1d(hidden_dim)
        self.head_pose = nn.Conv1d(hidden_dim * 2, 144, kernel_size=5, stride=1, padding=2)
        self.smpl = smpl
        self.smpl.register_buffer("J_regressor_h36m", torch.as_tensor(j_regressor_h36m, dtype=torch.float32))

    def forward(self, feat, init_pose, init_shape):
        n, t = feat.shape[:2]
        feat_pose = torch.relu(self.bn1(self.fc1(feat.reshape(n * t, -1))))
        init_pose = init_pose.reshape(n, t, -1).permute(0, 2, 1)
        feat_pred = torch.relu(self.bn2(self.fc2(init_pose)))
        feat_pose = torch.cat((feat_pose.reshape(n, t, -1).permute(0, 2, 1), feat_pred), 1)
        pred_pose = (self.head_pose(feat_pose) + init_pose).permute(0, 2, 1).reshape(n * t, -1)
        pred_shape = init_shape.reshape(n * t, -1)
        rotmat = rot6d_to_rotmat(pred_pose).reshape(-1, 24, 3, 3)
        out = self.smpl(betas=pred_shape, body_pose=rotmat[:, 1:], global_orient=rotmat[:, :1], pose2rot=False)
        verts = out.vertices * 1000.0
        joints = torch.matmul(self.smpl.J_regressor_h36m[None].expand(verts.shape[0], -1, -1), verts)
        return rotmat.reshape(-1, 24, 9), pred_shape, verts, joints


class MeshRegressor(nn.Module):
    """forward(pose2d (N, T, 17, 3), theta (N, T, 72), shape (N, T, 10)) -> (rot_mat (N, T, 24, 9),
    shape, vertices (N, T, 6890, 3) mm, keypoint_3d (N, T, 17, 3) mm), as ``MeshRegressorForDeployment``."""

    def __init__(self, smpl_path, j_regressor_h36m, labels="manual1", graph_mode="uniform", dim=128, depth=6,
                 heads=8, hidden=1024):
        super().__init__()
        import smplx
        self.backbone = MixSTE2(JOINT_LABELS[labels], graph_mode, dim, depth, heads)
        self.head = SMPLRegressor(smplx.SMPL(smpl_path), j_regressor_h36m, dim, hidden)

    def forward(self, x, init_pose, init_shape):
        n, t = x.shape[:2]
        rot, shape, verts, joints = self.head(self.backbone.get_representation(x), smpl_aa_to_ortho6d(init_pose),
                                              init_shape)
        return (rot.reshape(n, t, 24, 9), shape.reshape(n, t, -1), verts.reshape(n, t, -1, 3),
                joints.reshape(n, t, -1, 3))


def randomised(model, seed=0, scale=0.5, floor=0.02):
    """Every float parameter and BatchNorm statistic perturbed by ``scale`` x its own spread (``floor`` for
    constant ones: the positional embeddings and ``w1`` start at zero, biases and ``alpha`` at constants),
    except the body model and the fixed hyperedge tensors."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, value in model.state_dict().items():
            if name.startswith("head.smpl.") or "joint_label" in name or "hyper_matrix" in name \
                    or "merge_weight" in name or not value.dtype.is_floating_point:
                continue
            spread = float(value.std()) if value.numel() > 1 else 0.0
            noise = torch.randn(value.shape, generator=generator) * (scale * spread if spread > 0 else floor)
            value.copy_(value.abs() + 0.5 + noise if "running_var" in name else value + noise)
    return model.eval()


def release_file(model, path, epoch=60):
    """Write ``model`` as EHGFormer's trainer saves it: ``{'epoch', 'lr', 'optimizer', 'model': DataParallel
    state dict ('module.' prefixed), 'best_jpe'}``."""
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    torch.save({"epoch": epoch, "lr": [3.2e-4], "optimizer": {}, "model": state, "best_jpe": 90.0}, path)
