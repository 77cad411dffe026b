"""PyTorch mirrors of HybrIK's two released models in evaluation mode, with HybrIK's module names so their
state dicts have the released checkpoints' keys: ``HRNetSMPLCam`` (``hybrik/models/HRNetWithCam.py``) and
``Simple3DPoseBaseSMPLCam`` (``hybrik/models/simple3dposeSMPLWithCam.py``, its ResNet from
``hybrik/models/layers/Resnet.py``), Jeff-sjtu/HybrIK at 9b8681d. ``forward`` follows the originals line for
line with boxes given (``bboxes``, ``img_center``); the ``smpl.*`` buffers are not modules here (an smplx
model and the H36M regressor are passed in). Where an original cannot run, the mirror says how it departs.
"""
import torch
from torch import nn
from torch.nn import functional as F

from tests.reference.torch_hrnet import HybrIKHighResolutionNet
from tests.reference.torch_hybrik import flip_heatmap, smpl_layer_hybrik

JOINT_PAIRS_24 = ((1, 2), (4, 5), (7, 8), (10, 11), (13, 14), (16, 17), (18, 19), (20, 21), (22, 23))
JOINT_PAIRS_29 = JOINT_PAIRS_24 + ((25, 26), (27, 28))


def norm_heatmap(out):
    shape = out.shape
    return F.softmax(out.reshape(*shape[:2], -1), 2).reshape(*shape)


def flip_phi(pred_phi):
    pred_phi = pred_phi.clone()
    pred_phi[:, :, 1] = -1 * pred_phi[:, :, 1]
    for dim0, dim1 in JOINT_PAIRS_24:
        idx, inv_idx = torch.tensor((dim0 - 1, dim1 - 1)), torch.tensor((dim1 - 1, dim0 - 1))
        pred_phi[:, idx] = pred_phi[:, inv_idx]
    return pred_phi


def flip_sigma(pred_sigma):
    pred_sigma = pred_sigma.clone()
    for dim0, dim1 in JOINT_PAIRS_29:
        idx, inv_idx = torch.tensor((dim0, dim1)), torch.tensor((dim1, dim0))
        pred_sigma[:, idx] = pred_sigma[:, inv_idx]
    return pred_sigma


def _bbox_center(bboxes, img_center):
    cx, cy = (bboxes[:, 0] + bboxes[:, 2]) * 0.5, (bboxes[:, 1] + bboxes[:, 3]) * 0.5
    w, h = bboxes[:, 2] - bboxes[:, 0], bboxes[:, 3] - bboxes[:, 1]
    return torch.stack(((cx - img_center[:, 0]) / w, (cy - img_center[:, 1]) / h), dim=1).unsqueeze(dim=1)


class _SMPLCam(nn.Module):
    """What both models share after the heads: the integral, the camera, the body layer."""

    focal_length, input_size, depth_factor, depth_dim = 1000.0, 256.0, 2.2, 64

    def attach_body(self, smpl, j_regressor_h36m):
        self.body = (smpl, j_regressor_h36m)          # a tuple: not a submodule, not in the state dict

    def integral(self, heatmaps):
        b = heatmaps.shape[0]
        maxvals, _ = torch.max(heatmaps, dim=2, keepdim=True)
        heatmaps = heatmaps.reshape(b, 29, self.depth_dim, 64, 64)
        hm_x0, hm_y0, hm_z0 = heatmaps.sum((2, 3)), heatmaps.sum((2, 4)), heatmaps.sum((3, 4))
        range_tensor = torch.arange(hm_x0.shape[-1], dtype=torch.float32).unsqueeze(-1)
        coords = [hm.matmul(range_tensor) / 64.0 - 0.5 for hm in (hm_x0, hm_y0, hm_z0)]
        return torch.cat(coords, dim=2), maxvals

    def heatmaps(self, out, flip_out):
        b = out.shape[0]
        out = out.reshape(b, 29, -1)
        if flip_out is None:
            return norm_heatmap(out)
        flip_out = flip_heatmap(flip_out.reshape(b, 29, self.depth_dim, 64, 64)).reshape(b, 29, -1)
        return (norm_heatmap(out) + norm_heatmap(flip_out)) / 2

    def hybrik(self, pred_xyz, pred_shape, pred_phi, naive=False):
        smpl, regressor = self.body
        return smpl_layer_hybrik(smpl, regressor, pred_shape, pred_xyz * self.depth_factor, pred_phi, naive)

    def update_scale(self, pred_uvd, weight, init_scale, pred_shape, pred_phi, bboxes, img_center):
        cam_depth = self.focal_length / (self.input_size * init_scale + 1e-9)
        bbox_center = _bbox_center(bboxes, img_center)
        pred_xyz = torch.zeros_like(pred_uvd)
        pred_xyz[:, :, 2:] = pred_uvd[:, :, 2:].clone()
        pred_xy = ((pred_uvd[:, :, :2] + bbox_center) * self.input_size / self.focal_length) \
            * (pred_xyz[:, :, 2:] * self.depth_factor + cam_depth)
        pred_xyz[:, :, :2] = pred_xy / self.depth_factor
        camera_root = pred_xyz[:, 0, :] * self.depth_factor
        pred_xyz = pred_xyz - pred_xyz[:, [0]]
        _, joints, _, _ = self.hybrik(pred_xyz, pred_shape, pred_phi.reshape(-1, 23, 2), naive=True)
        pred_xyz24 = joints - joints[:, [0], :] + camera_root.unsqueeze(dim=1)
        pred_uvd24 = pred_uvd[:, :24, :].clone()
        pred_uvd24[:, :, :2] = pred_uvd24[:, :, :2] + bbox_center
        bs = pred_uvd.shape[0]
        weight_uv24 = weight[:, :24, :].reshape(bs, 24, 1)
        a = torch.cat((pred_uvd24[:, :, :1] * weight_uv24, pred_uvd24[:, :, 1:2] * weight_uv24), dim=1)
        bx = (pred_xyz24[:, :, 0] - self.input_size * pred_uvd24[:, :, 0] / self.focal_length * pred_xyz24[:, :, 2]) \
            * weight_uv24[:, :, 0]
        by = (pred_xyz24[:, :, 1] - self.input_size * pred_uvd24[:, :, 1] / self.focal_length * pred_xyz24[:, :, 2]) \
            * weight_uv24[:, :, 0]
        b = torch.cat((bx, by), dim=1)[:, :, None]
        res = torch.inverse(a.transpose(1, 2).bmm(a)).bmm(a.transpose(1, 2)).bmm(b)
        return 1.0 / res

    def tail(self, pred_uvd_jts_29, pred_shape, pred_phi, pred_camera, sigma, bboxes, img_center, refit):
        """Both forwards after the heads: ``update_scale`` (HRNet's, ``refit``), then :meth:`finish`."""
        cam_scale = pred_camera[:, :1].unsqueeze(1)
        if refit:
            weight = (1 - sigma * 10).clamp_min(0)
            try:
                cam_scale = self.update_scale(pred_uvd_jts_29, weight, cam_scale, pred_shape, pred_phi, bboxes,
                                              img_center)
            except RuntimeError:
                pass
        return self.finish(pred_uvd_jts_29, pred_shape, pred_phi, cam_scale, bboxes, img_center)

    def finish(self, pred_uvd_jts_29, pred_shape, pred_phi, cam_scale, bboxes, img_center, naive=False):
        batch_size = pred_uvd_jts_29.shape[0]
        cam_depth = self.focal_length / (self.input_size * cam_scale + 1e-9)
        bbox_center = _bbox_center(bboxes, img_center)
        pred_xyz_jts_29 = torch.zeros_like(pred_uvd_jts_29)
        pred_xyz_jts_29[:, :, 2:] = pred_uvd_jts_29[:, :, 2:].clone()
        pred_xy_m = ((pred_uvd_jts_29[:, :, :2] + bbox_center) * self.input_size / self.focal_length) \
            * (pred_xyz_jts_29[:, :, 2:] * self.depth_factor + cam_depth)
        pred_xyz_jts_29[:, :, :2] = pred_xy_m / self.depth_factor
        camera_root = pred_xyz_jts_29[:, 0, :] * self.depth_factor
        camera_root[:, 2] += cam_depth[:, 0, 0]
        pred_xyz_jts_29 = pred_xyz_jts_29 - pred_xyz_jts_29[:, [0]]
        vertices, joints, rotmats, joints17 = self.hybrik(pred_xyz_jts_29, pred_shape, pred_phi, naive)
        return dict(pred_phi=pred_phi, pred_shape=pred_shape, pred_theta_mats=rotmats.reshape(batch_size, 24 * 9),
                    pred_uvd_jts=pred_uvd_jts_29.reshape(batch_size, -1),
                    pred_xyz_jts_29=pred_xyz_jts_29.reshape(batch_size, -1),
                    pred_xyz_jts_24=pred_xyz_jts_29[:, :24, :].reshape(batch_size, 72),
                    pred_xyz_jts_24_struct=(joints / self.depth_factor).reshape(batch_size, 72),
                    pred_xyz_jts_17=(joints17 / self.depth_factor).reshape(batch_size, 51), pred_vertices=vertices,
                    cam_scale=cam_scale[:, 0], cam_root=camera_root, transl=camera_root - joints[:, 0, :])


class HRNetSMPLCam(_SMPLCam):
    def __init__(self, init_shape, width=48):
        super().__init__()
        self.preact = HybrIKHighResolutionNet(width, 29, 64)
        self.register_buffer("init_shape", torch.as_tensor(init_shape, dtype=torch.float32))
        self.register_buffer("init_cam", torch.tensor([0.9]))
        self.decshape, self.decphi = nn.Linear(2048, 10), nn.Linear(2048, 23 * 2)
        self.deccam, self.decsigma = nn.Linear(2048, 1), nn.Linear(2048, 29)

    def heads(self, x0):
        batch_size = x0.shape[0]
        pred_shape = self.decshape(x0) + self.init_shape.expand(batch_size, -1)
        pred_phi = self.decphi(x0).reshape(batch_size, 23, 2)
        pred_camera = self.deccam(x0).reshape(batch_size, -1) + self.init_cam.expand(batch_size, -1)
        sigma = self.decsigma(x0).reshape(batch_size, 29, 1).sigmoid()
        return pred_shape, pred_phi, pred_camera, sigma

    def forward(self, x, flip_test=False, bboxes=None, img_center=None):
        out, x0 = self.preact(x)
        flip_out, flip_x0 = self.preact(x.flip(dims=(3,))) if flip_test else (None, None)
        pred_uvd_jts_29, maxvals = self.integral(self.heatmaps(out, flip_out))
        pred_shape, pred_phi, pred_camera, sigma = self.heads(x0)
        if flip_test:
            flip_shape, flip_phi_, flip_camera, flip_sigma_ = self.heads(flip_x0)
            pred_shape = (pred_shape + flip_shape) / 2
            pred_phi = (pred_phi + flip_phi(flip_phi_)) / 2
            pred_camera = 2 / (1 / flip_camera + 1 / pred_camera)
            sigma = (sigma + flip_sigma(flip_sigma_)) / 2
        output = self.tail(pred_uvd_jts_29, pred_shape, pred_phi, pred_camera, sigma, bboxes, img_center, True)
        output.update(pred_camera=pred_camera, pred_sigma=sigma, maxvals=maxvals)
        return output


class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False), nn.BatchNorm2d(planes)
        self.conv2, self.bn2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False), nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet(nn.Module):
    """``hybrik/models/layers/Resnet.py``'s ResNet with basic blocks (18, 34); forward -> the last map."""

    def __init__(self, layers=(3, 4, 6, 3), width=64):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, width, 7, 2, 3, bias=False), nn.BatchNorm2d(width)
        self.relu, self.maxpool = nn.ReLU(), nn.MaxPool2d(3, 2, 1)
        inplanes = width
        for index, count in enumerate(layers):
            planes, stride = width * 2 ** index, 1 if index == 0 else 2
            down = None
            if stride != 1 or inplanes != planes:
                down = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
            blocks = [BasicBlock(inplanes, planes, stride, down)] + [BasicBlock(planes, planes) for _ in range(count - 1)]
            setattr(self, f"layer{index + 1}", nn.Sequential(*blocks))
            inplanes = planes
        self.feature_channel = inplanes

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


class Simple3DPoseBaseSMPLCam(_SMPLCam):
    """With ``flip_test`` the original cannot run (its ``decsigma`` is applied to the 512-d pooled map rather
    than ``fc2``'s output, and the class has no ``flip_sigma``): the mirror applies it to the flipped
    ``fc2`` output and swaps the pairs as the HRNet model does."""

    def __init__(self, init_shape, layers=(3, 4, 6, 3), width=64, deconv=256):
        super().__init__()
        self.preact = ResNet(layers, width)
        channels = self.preact.feature_channel
        self.deconv_layers = nn.Sequential(
            nn.ConvTranspose2d(channels, deconv, 4, 2, 1, bias=False), nn.BatchNorm2d(deconv), nn.ReLU(),
            nn.ConvTranspose2d(deconv, deconv, 4, 2, 1, bias=False), nn.BatchNorm2d(deconv), nn.ReLU(),
            nn.ConvTranspose2d(deconv, deconv, 4, 2, 1, bias=False), nn.BatchNorm2d(deconv), nn.ReLU())
        self.final_layer = nn.Conv2d(deconv, 29 * 64, 1, 1, 0)
        self.register_buffer("init_shape", torch.as_tensor(init_shape, dtype=torch.float32))
        self.register_buffer("init_cam", torch.tensor([0.9, 0, 0]))
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc1, self.drop1 = nn.Linear(channels, 1024), nn.Dropout(p=0.5)
        self.fc2, self.drop2 = nn.Linear(1024, 1024), nn.Dropout(p=0.5)
        self.decshape, self.decphi = nn.Linear(1024, 10), nn.Linear(1024, 23 * 2)
        self.deccam, self.decsigma = nn.Linear(1024, 3), nn.Linear(1024, 29)

    def heads(self, x0):
        batch_size = x0.shape[0]
        xc = self.drop2(self.fc2(self.drop1(self.fc1(self.avg_pool(x0).view(batch_size, -1)))))
        pred_shape = self.decshape(xc) + self.init_shape.expand(batch_size, -1)
        pred_phi = self.decphi(xc).reshape(batch_size, 23, 2)
        pred_camera = self.deccam(xc).reshape(batch_size, -1) + self.init_cam.expand(batch_size, -1)
        sigma = self.decsigma(xc).reshape(batch_size, 29, 1).sigmoid()
        return pred_shape, pred_phi, pred_camera, sigma

    def forward(self, x, flip_test=False, bboxes=None, img_center=None):
        x0 = self.preact(x)
        out = self.final_layer(self.deconv_layers(x0))
        flip_out = flip_x0 = None
        if flip_test:
            flip_x0 = self.preact(x.flip(dims=(3,)))
            flip_out = self.final_layer(self.deconv_layers(flip_x0))
        pred_uvd_jts_29, maxvals = self.integral(self.heatmaps(out, flip_out))
        pred_shape, pred_phi, pred_camera, sigma = self.heads(x0)
        if flip_test:
            flip_shape, flip_phi_, flip_camera, flip_sigma_ = self.heads(flip_x0)
            pred_shape = (pred_shape + flip_shape) / 2
            pred_phi = (pred_phi + flip_phi(flip_phi_)) / 2
            flip_camera = flip_camera.clone()
            flip_camera[:, 1] = -flip_camera[:, 1]
            pred_camera = (pred_camera + flip_camera) / 2
            sigma = (sigma + flip_sigma(flip_sigma_)) / 2
        output = self.tail(pred_uvd_jts_29, pred_shape, pred_phi, pred_camera, sigma, bboxes, img_center, False)
        output.update(pred_camera=pred_camera, pred_sigma=sigma, maxvals=maxvals)
        return output
