"""3DCrowdNet and HAP's 3D model in PyTorch with the originals' module names and forwards
(``hongsukchoi/3DCrowdNet_RELEASE`` ``main/model.py``, ``common/nets/{module,layer,resnet}.py``; HAP's copy adds
``Pose2FeatVit``, the ViT's split forward and ``vit_conv_layer``), the reference for ``HMR/crowdnet.py`` and
``--from crowdnet``.

Written from the facts in SEED_SYSTEMS_FACTS section 2 and the originals' code as read: Gaussian heatmaps
(sigma 2.5 on 64 x 64) times the mask, ``F.interpolate`` (nearest) to the early grid, the per-joint
``fcbn_list`` graph blocks, ``grid_sample(align_corners=True)`` sampling (per joint, as the original loops),
VPoser v1's decoder, ``t_z = k sigmoid(c)``, smplx's SMPL layer with the 30-joint regressor. Test mode only
(BatchNorm on running statistics, no drop path); the root's axis-angle from scipy (the original uses
torchgeometry's quaternion route, the same rotation).
"""
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tests.reference.torch_hmr import ResNet50
from tests.reference.torch_hmr2 import ViT

FOCAL, INPUT, HEATMAP, SIGMA, CAMERA_3D = 5000.0, 256, 64, 2.5, 2.5
SKELETON = ((0, 1), (1, 3), (3, 5), (0, 2), (2, 4), (4, 6), (0, 7), (7, 8), (7, 9), (9, 11), (11, 13), (7, 10),
            (10, 12), (12, 14))
FLIP_PAIRS = ((1, 2), (3, 4), (5, 6), (9, 10), (11, 12), (13, 14))


def make_conv_layers(dims, kernel=3, padding=1, bnrelu_final=True):
    layers = []
    for i in range(len(dims) - 1):
        layers.append(nn.Conv2d(dims[i], dims[i + 1], kernel, 1, padding))
        if i < len(dims) - 2 or bnrelu_final:
            layers += [nn.BatchNorm2d(dims[i + 1]), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class ResNetBackbone(ResNet50):
    """``common/nets/resnet.py`` at resnet_type 50 (torchvision's names): early = stem, late = layer1..4."""

    def forward(self, x, skip_early=False):
        if not skip_early:
            return self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


class HAPViT(ViT):
    """HAP's ``nets/vit.py`` ``forward_features(x, skip_early)``: early = patch embedding + position + block 0,
    late = blocks 1.. + last_norm, reshaped to the hard-coded 16 x 16."""

    def __init__(self, depth=12):
        super().__init__(img_size=(256, 256), embed_dim=768, depth=depth, num_heads=12, padding=2)

    def forward(self, x, skip_early=False):
        if not skip_early:
            x = self.patch_embed.proj(x)
            b, _, hp, wp = x.shape
            x = x.flatten(2).transpose(1, 2) + self.pos_embed[:, 1:] + self.pos_embed[:, :1]
            x = self.blocks[0](x)
            return x.permute(0, 2, 1).reshape(b, -1, hp, wp)
        for block in self.blocks[1:]:
            x = block(x)
        x = self.last_norm(x)
        return x.permute(0, 2, 1).reshape(x.shape[0], -1, 16, 16).contiguous()


class Pose2Feat(nn.Module):
    def __init__(self, channels, joint_num=30):
        super().__init__()
        self.conv = make_conv_layers([channels + joint_num, channels])

    def forward(self, img_feat, joint_heatmap):
        return self.conv(torch.cat((img_feat, joint_heatmap), 1))


class PositionNet(nn.Module):
    def __init__(self, in_channels=2048, joint_num=15, depth=8):
        super().__init__()
        self.joint_num, self.hm_shape = joint_num, (depth, depth, depth)
        self.conv = make_conv_layers([in_channels, joint_num * depth], kernel=1, padding=0, bnrelu_final=False)

    def soft_argmax_3d(self, heatmap3d):
        d, h, w = self.hm_shape
        heatmap3d = F.softmax(heatmap3d.reshape(-1, self.joint_num, d * h * w), 2).reshape(-1, self.joint_num, d, h, w)
        accu_x = (heatmap3d.sum(dim=(2, 3)) * torch.arange(w).float()[None, None]).sum(2, keepdim=True)
        accu_y = (heatmap3d.sum(dim=(2, 4)) * torch.arange(h).float()[None, None]).sum(2, keepdim=True)
        accu_z = (heatmap3d.sum(dim=(3, 4)) * torch.arange(d).float()[None, None]).sum(2, keepdim=True)
        return torch.cat((accu_x, accu_y, accu_z), 2)

    def forward(self, img_feat):
        d, h, w = self.hm_shape
        joint_heatmap = self.conv(img_feat).view(-1, self.joint_num, d, h, w)
        joint_coord = self.soft_argmax_3d(joint_heatmap)
        joint_heatmap = F.softmax(joint_heatmap.view(-1, self.joint_num, d * h * w), 2).view(-1, self.joint_num, d, h, w)
        scores = []
        for j in range(self.joint_num):
            x = joint_coord[:, j, 0] / (w - 1) * 2 - 1
            y = joint_coord[:, j, 1] / (h - 1) * 2 - 1
            z = joint_coord[:, j, 2] / (d - 1) * 2 - 1
            grid = torch.stack((x, y, z), 1)[:, None, None, None, :]
            scores.append(F.grid_sample(joint_heatmap[:, j, None], grid, align_corners=True)[:, 0, 0, 0, 0])
        return joint_coord, torch.stack(scores).permute(1, 0)[:, :, None]


class GraphConvBlock(nn.Module):
    def __init__(self, adj, dim_in, dim_out):
        super().__init__()
        self.adj = adj
        self.fcbn_list = nn.ModuleList([nn.Sequential(nn.Linear(dim_in, dim_out), nn.BatchNorm1d(dim_out))
                                        for _ in range(adj.shape[0])])

    def forward(self, feat):
        feat = torch.stack([fcbn(feat[:, i, :]) for i, fcbn in enumerate(self.fcbn_list)], 1)
        return F.relu(torch.bmm(self.adj[None].repeat(feat.shape[0], 1, 1), feat))


class GraphResBlock(nn.Module):
    def __init__(self, adj, dim):
        super().__init__()
        self.graph_block1 = GraphConvBlock(adj, dim, dim)
        self.graph_block2 = GraphConvBlock(adj, dim, dim)

    def forward(self, feat):
        return self.graph_block2(self.graph_block1(feat)) + feat


def graph_adj(joint_num=15):
    adj = np.zeros((joint_num, joint_num))
    for a, b in SKELETON + FLIP_PAIRS:
        adj[a, b] = adj[b, a] = 1
    adj_self = adj + np.eye(joint_num)
    d = 1 / np.sqrt(np.diag(adj_self.sum(0)) + np.spacing(np.array(0))) * np.eye(joint_num)
    return torch.from_numpy(d @ adj_self @ d).float()


class RotationNet(nn.Module):
    def __init__(self, in_channels=2048, joint_num=15):
        super().__init__()
        self.joint_num = joint_num
        adj = graph_adj(joint_num)
        self.graph_block = nn.Sequential(GraphConvBlock(adj, in_channels + 4, 128),
                                         *[GraphResBlock(adj, 128) for _ in range(4)])
        self.root_pose_out = nn.Sequential(nn.Linear(joint_num * 128, 6))
        self.pose_out = nn.Sequential(nn.Linear(joint_num * 128, 32))
        self.shape_out = nn.Sequential(nn.Linear(joint_num * 128, 10))
        self.cam_out = nn.Sequential(nn.Linear(joint_num * 128, 3))

    def sample_image_feature(self, img_feat, joint_coord_img):
        h, w = img_feat.shape[2:]
        out = []
        for j in range(self.joint_num):
            x = joint_coord_img[:, j, 0] / (w - 1) * 2 - 1
            y = joint_coord_img[:, j, 1] / (h - 1) * 2 - 1
            grid = torch.stack((x, y), 1)[:, None, None, :]
            out.append(F.grid_sample(img_feat, grid, align_corners=True)[:, :, 0, 0])
        return torch.stack(out).permute(1, 0, 2)

    def forward(self, img_feat, joint_coord_img, joint_score):
        feat = torch.cat((self.sample_image_feature(img_feat, joint_coord_img), joint_coord_img, joint_score), 2)
        feat = self.graph_block(feat).view(-1, self.joint_num * 128)
        return self.root_pose_out(feat), self.pose_out(feat), self.shape_out(feat), self.cam_out(feat)


def rot6d_columns(x):
    """``view(-1, 3, 2)`` columns Gram-Schmidt (VPoser's ContinousRotReprDecoder, 3DCrowdNet's rot6d)."""
    x = x.reshape(-1, 3, 2)
    b1 = F.normalize(x[:, :, 0], dim=1)
    b2 = F.normalize(x[:, :, 1] - (b1 * x[:, :, 1]).sum(1, keepdim=True) * b1, dim=-1)
    return torch.stack([b1, b2, torch.cross(b1, b2, dim=1)], dim=-1)


def matrix_to_axis_angle(rotmats):
    from scipy.spatial.transform import Rotation
    flat = rotmats.detach().reshape(-1, 3, 3).double().numpy()
    return torch.from_numpy(Rotation.from_matrix(flat).as_rotvec()).float()


class VPoserV1(nn.Module):
    """human_body_prior 0.x ``VPoser(num_neurons=512, latentD=32, data_shape=[1, 21, 3])`` (eval: no dropout)."""

    def __init__(self):
        super().__init__()
        self.bodyprior_enc_bn1 = nn.BatchNorm1d(63)
        self.bodyprior_enc_fc1 = nn.Linear(63, 512)
        self.bodyprior_enc_bn2 = nn.BatchNorm1d(512)
        self.bodyprior_enc_fc2 = nn.Linear(512, 512)
        self.bodyprior_enc_mu = nn.Linear(512, 32)
        self.bodyprior_enc_logvar = nn.Linear(512, 32)
        self.bodyprior_dec_fc1 = nn.Linear(32, 512)
        self.bodyprior_dec_fc2 = nn.Linear(512, 512)
        self.bodyprior_dec_out = nn.Linear(512, 21 * 6)

    def decode(self, z):
        x = F.leaky_relu(self.bodyprior_dec_fc1(z), negative_slope=.2)
        x = F.leaky_relu(self.bodyprior_dec_fc2(x), negative_slope=.2)
        return rot6d_columns(self.bodyprior_dec_out(x)).view(-1, 21, 3, 3)


class Vposer(nn.Module):
    def __init__(self):
        super().__init__()
        self.vposer = VPoserV1()

    def forward(self, z):
        rotmats = self.vposer.decode(z)
        return rotmats, matrix_to_axis_angle(rotmats).view(z.shape[0], 21, 3)


class Model(nn.Module):
    """``main/model.py`` ``Model`` (HAP's when ``vit``): test-mode forward -> its ``out`` dict plus cam_trans.

    ``smpl``: an smplx ``SMPL``; ``regressor30``: (30, V) numpy (SMPL's J_regressor, the five face vertices' one-hot
    rows, J_regressor_extra's row 3)."""

    def __init__(self, smpl, regressor30, vit_depth=0):
        super().__init__()
        if vit_depth:
            self.backbone = HAPViT(vit_depth)
            self.pose2feat = Pose2Feat(768)
            self.vit_conv_layer = nn.Conv2d(768, 2048, 1, 1, 0)
        else:
            self.backbone = ResNetBackbone()
            self.pose2feat = Pose2Feat(64)
        self.position_net = PositionNet()
        self.rotation_net = RotationNet()
        self.vposer = Vposer()
        self.human_model_layer = smpl
        self.vit = bool(vit_depth)
        self.regressor30 = torch.from_numpy(np.asarray(regressor30, np.float32))       # a numpy array there

    def make_2d_gaussian_heatmap(self, joint_coord_img):
        yy, xx = torch.meshgrid(torch.arange(HEATMAP), torch.arange(HEATMAP), indexing="ij")
        xx, yy = xx[None, None].float(), yy[None, None].float()
        x, y = joint_coord_img[:, :, 0, None, None], joint_coord_img[:, :, 1, None, None]
        return torch.exp(-(((xx - x) / SIGMA) ** 2) / 2 - (((yy - y) / SIGMA) ** 2) / 2)

    def forward(self, img, joints, joints_mask):
        early = self.backbone(img)
        heatmap = self.make_2d_gaussian_heatmap(joints) * joints_mask[:, :, :, None]
        if self.vit:
            heatmap = F.interpolate(heatmap, size=(early.shape[-2], early.shape[-1]))
            feat = self.pose2feat(early, heatmap)
            feat = feat.reshape(feat.shape[0], feat.shape[1], -1).permute(0, 2, 1)
            feat = self.vit_conv_layer(F.interpolate(self.backbone(feat, skip_early=True), size=(8, 8)))
        else:
            feat = self.backbone(self.pose2feat(early, heatmap), skip_early=True)
        joint_img, joint_score = self.position_net(feat)
        root_6d, z, shape, cam_param = self.rotation_net(feat, joint_img.detach(), joint_score.detach())
        root_mat = rot6d_columns(root_6d)
        root_pose = matrix_to_axis_angle(root_mat)
        _, body_pose = self.vposer(z)
        batch = z.shape[0]
        pose = torch.cat((root_pose[:, None], body_pose, torch.zeros(batch, 2, 3)), 1).view(batch, 72)
        k = math.sqrt(FOCAL * FOCAL * CAMERA_3D * CAMERA_3D / (INPUT * INPUT))
        cam_trans = torch.cat((cam_param[:, :2], (k * torch.sigmoid(cam_param[:, 2]))[:, None]), 1)
        mesh = self.human_model_layer(betas=shape, global_orient=pose[:, :3], body_pose=pose[:, 3:], transl=cam_trans).vertices
        joint_cam = torch.matmul(self.regressor30, mesh)
        x = joint_cam[:, :, 0] / (joint_cam[:, :, 2] + 1e-4) * FOCAL + INPUT / 2
        y = joint_cam[:, :, 1] / (joint_cam[:, :, 2] + 1e-4) * FOCAL + INPUT / 2
        joint_proj = torch.stack((x / INPUT * HEATMAP, y / INPUT * HEATMAP), 2)
        root = joint_cam[:, :1]
        return {"joint_img": joint_img * 8, "joint_score": joint_score, "joint_proj": joint_proj,
                "joint_cam": joint_cam - root, "smpl_mesh_cam": mesh - root, "smpl_pose": pose, "smpl_shape": shape,
                "cam_param": cam_param, "cam_trans": cam_trans}
