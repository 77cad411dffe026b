"""HMR 2.0 in PyTorch with 4D-Humans' module names and shapes (``hmr2/models``), the reference for the
MindSpore ViT backbone, decoder head and discriminator (and for ``--from hmr2|vitpose|hap``).

Written from the facts in HMR_FACTS (4D-Humans section) with torch's own layers: the ViT with the
padded patch convolution and ``pos_embed[:, 1:] + pos_embed[:, :1]``; the decoder's PreNorm
layers ``[self-attention, cross-attention, feed-forward]``; HMR 2.0's 6D layout
``reshape(-1, 2, 3).permute(0, 2, 1)``; the discriminator of HMR with 1x1 convolutions. Sizes are
arguments so tests can shrink them; the defaults are HMR 2.0's ViT-H model.
"""
import torch
import torch.nn.functional as F
from torch import nn


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.qkv, self.proj = nn.Linear(dim, 3 * dim, bias=True), nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        attn = ((q * self.scale) @ k.transpose(-2, -1)).softmax(-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, -1))


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim, eps=1e-6), Attention(dim, heads)
        self.norm2, self.mlp = nn.LayerNorm(dim, eps=1e-6), Mlp(dim, 4 * dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, dim, padding):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, 16, stride=16, padding=padding)


class ViT(nn.Module):
    """ViTPose's ViT (eval mode: no drop path). Output (B, C, rows, cols)."""

    def __init__(self, img_size=(256, 192), embed_dim=1280, depth=32, num_heads=16, padding=2, last_norm=True):
        super().__init__()
        self.patch_embed = PatchEmbed(embed_dim, padding)
        tokens = (img_size[0] // 16) * (img_size[1] // 16)
        self.pos_embed = nn.Parameter(torch.randn(1, tokens + 1, embed_dim) * 0.02)
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads) for _ in range(depth)])
        if last_norm:
            self.last_norm = nn.LayerNorm(embed_dim, eps=1e-6)

    def forward(self, x):
        x = self.patch_embed.proj(x)
        b, c, hp, wp = x.shape
        x = x.flatten(2).transpose(1, 2) + self.pos_embed[:, 1:] + self.pos_embed[:, :1]
        for block in self.blocks:
            x = block(x)
        x = self.last_norm(x)
        return x.permute(0, 2, 1).reshape(b, -1, hp, wp)


class PreNorm(nn.Module):
    def __init__(self, dim, fn):
        super().__init__()
        self.norm, self.fn = nn.LayerNorm(dim), fn

    def forward(self, x, **kwargs):
        return self.fn(self.norm(x), **kwargs)


def _heads(t, h):
    b, n, _ = t.shape
    return t.reshape(b, n, h, -1).permute(0, 2, 1, 3)


def _attention(q, k, v, scale):
    out = ((q @ k.transpose(-1, -2)) * scale).softmax(-1) @ v
    b, h, n, d = out.shape
    return out.permute(0, 2, 1, 3).reshape(b, n, h * d)


class SelfAttention(nn.Module):
    def __init__(self, dim, heads, dim_head):
        super().__init__()
        self.heads, self.scale = heads, dim_head ** -0.5
        self.to_qkv = nn.Linear(dim, 3 * heads * dim_head, bias=False)
        self.to_out = nn.Sequential(nn.Linear(heads * dim_head, dim), nn.Dropout(0.0))

    def forward(self, x):
        q, k, v = (_heads(t, self.heads) for t in self.to_qkv(x).chunk(3, dim=-1))
        return self.to_out(_attention(q, k, v, self.scale))


class CrossAttention(nn.Module):
    def __init__(self, dim, context_dim, heads, dim_head):
        super().__init__()
        self.heads, self.scale = heads, dim_head ** -0.5
        self.to_kv = nn.Linear(context_dim, 2 * heads * dim_head, bias=False)
        self.to_q = nn.Linear(dim, heads * dim_head, bias=False)
        self.to_out = nn.Sequential(nn.Linear(heads * dim_head, dim), nn.Dropout(0.0))

    def forward(self, x, context):
        k, v = (_heads(t, self.heads) for t in self.to_kv(context).chunk(2, dim=-1))
        return self.to_out(_attention(_heads(self.to_q(x), self.heads), k, v, self.scale))


class FeedForward(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(0.0), nn.Linear(hidden, dim),
                                 nn.Dropout(0.0))

    def forward(self, x):
        return self.net(x)


class TransformerCrossAttn(nn.Module):
    def __init__(self, dim, depth, heads, dim_head, mlp_dim, context_dim):
        super().__init__()
        self.layers = nn.ModuleList([nn.ModuleList([
            PreNorm(dim, SelfAttention(dim, heads, dim_head)),
            PreNorm(dim, CrossAttention(dim, context_dim, heads, dim_head)),
            PreNorm(dim, FeedForward(dim, mlp_dim))]) for _ in range(depth)])

    def forward(self, x, context):
        for self_attn, cross_attn, ff in self.layers:
            x = self_attn(x) + x
            x = cross_attn(x, context=context) + x
            x = ff(x) + x
        return x


class TransformerDecoder(nn.Module):
    def __init__(self, dim, depth, heads, dim_head, mlp_dim, context_dim):
        super().__init__()
        self.to_token_embedding = nn.Linear(1, dim)
        self.pos_embedding = nn.Parameter(torch.randn(1, 1, dim))
        self.transformer = TransformerCrossAttn(dim, depth, heads, dim_head, mlp_dim, context_dim)

    def forward(self, token, context):
        return self.transformer(self.to_token_embedding(token) + self.pos_embedding, context)


def rot6d_to_rotmat(x):
    """4D-Humans' layout: ``reshape(-1, 2, 3).permute(0, 2, 1)``, columns a1 = x[:3], a2 = x[3:]."""
    x = x.reshape(-1, 2, 3).permute(0, 2, 1)
    b1 = F.normalize(x[:, :, 0])
    a2 = x[:, :, 1]
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1)
    return torch.stack((b1, b2, torch.cross(b1, b2, dim=-1)), dim=-1)


class SMPLTransformerDecoderHead(nn.Module):
    def __init__(self, init_pose, init_betas, init_cam, context_dim=1280, dim=1024, depth=6, heads=8, dim_head=64,
                 mlp_dim=1024):
        super().__init__()
        self.transformer = TransformerDecoder(dim, depth, heads, dim_head, mlp_dim, context_dim)
        self.decpose, self.decshape, self.deccam = nn.Linear(dim, 144), nn.Linear(dim, 10), nn.Linear(dim, 3)
        self.register_buffer("init_body_pose", torch.as_tensor(init_pose, dtype=torch.float32).reshape(1, 144))
        self.register_buffer("init_betas", torch.as_tensor(init_betas, dtype=torch.float32).reshape(1, 10))
        self.register_buffer("init_cam", torch.as_tensor(init_cam, dtype=torch.float32).reshape(1, 3))

    def forward(self, x):
        b = x.shape[0]
        context = x.flatten(2).transpose(1, 2)
        token = torch.zeros(b, 1, 1)
        out = self.transformer(token, context=context)[:, 0]
        pose = self.decpose(out) + self.init_body_pose
        betas = self.decshape(out) + self.init_betas
        cam = self.deccam(out) + self.init_cam
        return rot6d_to_rotmat(pose).reshape(b, 24, 3, 3), betas, cam


class Discriminator(nn.Module):
    """HMR's discriminator as 4D-Humans writes it (``D_conv1`` 9 -> 32 1x1, ``pose_out.{i}``, ``betas_*``,
    ``D_alljoints_*``); output ``[23 per joint | betas | all joints]``."""

    def __init__(self):
        super().__init__()
        self.D_conv1, self.D_conv2 = nn.Conv2d(9, 32, 1), nn.Conv2d(32, 32, 1)
        self.pose_out = nn.ModuleList([nn.Linear(32, 1) for _ in range(23)])
        self.betas_fc1, self.betas_fc2, self.betas_out = nn.Linear(10, 10), nn.Linear(10, 5), nn.Linear(5, 1)
        self.D_alljoints_fc1 = nn.Linear(32 * 23, 1024)
        self.D_alljoints_fc2, self.D_alljoints_out = nn.Linear(1024, 1024), nn.Linear(1024, 1)

    def forward(self, poses, betas):
        poses = poses.reshape(-1, 23, 1, 9).permute(0, 3, 1, 2)
        bn = poses.shape[0]
        poses = F.relu(self.D_conv2(F.relu(self.D_conv1(poses))))
        per_joint = torch.cat([self.pose_out[i](poses[:, :, i, 0]) for i in range(23)], 1)
        shape = self.betas_out(F.relu(self.betas_fc2(F.relu(self.betas_fc1(betas)))))
        full = self.D_alljoints_out(F.relu(self.D_alljoints_fc2(F.relu(self.D_alljoints_fc1(poses.reshape(bn, -1))))))
        return torch.cat((per_joint, shape, full), 1)


def smpl_wrapper(model_path, joint_regressor_extra):
    """4D-Humans' ``hmr2/models/smpl_wrapper.py`` ``SMPL``: smplx's ``SMPLLayer`` (its buffers: ``shapedirs``,
    ``v_template``, ``J_regressor``, ``posedirs``, ``parents``, ``lbs_weights``, ``faces_tensor``,
    ``vertex_joint_selector.extra_joints_idxs``) plus the buffers ``joint_regressor_extra`` (read from a
    pickle) and ``joint_map`` (SMPL -> OpenPose order) that the wrapper registers."""
    import pickle

    import smplx

    class SMPL(smplx.SMPLLayer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            smpl_to_openpose = [24, 12, 17, 19, 21, 16, 18, 20, 0, 2, 5, 8, 1, 4,
                                7, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34]
            with open(joint_regressor_extra, "rb") as handle:
                extra = pickle.load(handle, encoding="latin1")
            self.register_buffer("joint_regressor_extra", torch.tensor(extra, dtype=torch.float32))
            self.register_buffer("joint_map", torch.tensor(smpl_to_openpose, dtype=torch.long))

    return SMPL(model_path=model_path)


class HMR2(nn.Module):
    """The Lightning module's networks and buffers: ``backbone``, ``smpl_head``, ``discriminator``, the body
    model ``smpl`` (given, e.g. :func:`smpl_wrapper`; None leaves its buffers out) and the ``initialized``
    flag ``HMR2.__init__`` registers (``register_buffer('initialized', torch.tensor(False))``), so that
    ``state_dict()`` holds every key an HMR 2.0 ``.ckpt``'s ``state_dict`` does."""

    def __init__(self, init_pose, init_betas, init_cam, embed_dim=1280, depth=32, num_heads=16, decoder_dim=1024,
                 decoder_depth=6, decoder_heads=8, decoder_dim_head=64, img_size=(256, 192), smpl=None):
        super().__init__()
        self.backbone = ViT(img_size, embed_dim, depth, num_heads)
        self.smpl_head = SMPLTransformerDecoderHead(init_pose, init_betas, init_cam, embed_dim, decoder_dim,
                                                    decoder_depth, decoder_heads, decoder_dim_head, decoder_dim)
        self.discriminator = Discriminator()
        if smpl is not None:
            self.smpl = smpl
        self.register_buffer("initialized", torch.tensor(False))
        self.margin = (img_size[0] - img_size[1]) // 2

    def forward(self, square_images):
        """(B, 3, S, S) -> rotmats (B, 24, 3, 3), betas (B, 10), cam (B, 3); the ViT sees ``[:, :, :, m:-m]``."""
        return self.smpl_head(self.backbone(square_images[:, :, :, self.margin:-self.margin]))
