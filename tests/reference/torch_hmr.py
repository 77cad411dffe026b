"""HMR written in PyTorch (eager), as an independent reference for tests and benchmarks.

ResNet-50 in torchvision's module layout (torchvision itself is not installed), HMR's
axis-angle regressor, the discriminator, and the smplx SMPL layer.
"""
import math

import torch
from torch import nn


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_ch, width, stride):
        super().__init__()
        out_ch = width * 4
        self.conv1 = nn.Conv2d(in_ch, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_ch != out_ch:
            self.downsample = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


class ResNet50(nn.Module):
    """torchvision.models.resnet50 without ``fc`` (same parameter names)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        in_ch, layers = 64, []
        for index, count in enumerate((3, 4, 6, 3)):
            blocks = []
            for b in range(count):
                blocks.append(Bottleneck(in_ch, 64 * 2 ** index, 2 if (b == 0 and index > 0) else 1))
                in_ch = 64 * 2 ** index * 4
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = layers

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return x.mean((2, 3))


class AxisAngleRegressor(nn.Module):
    def __init__(self, feature_dim, init_theta, iterations=3):
        super().__init__()
        self.fc1 = nn.Linear(feature_dim + 85, 1024)
        self.fc2 = nn.Linear(1024, 1024)
        self.dec = nn.Linear(1024, 85)
        nn.init.xavier_uniform_(self.dec.weight, gain=0.01)
        self.drop = nn.Dropout(0.5)
        self.register_buffer("init_theta", torch.as_tensor(init_theta, dtype=torch.float32).reshape(1, 85))
        self.iterations = iterations

    def forward(self, features):
        theta = self.init_theta.expand(features.shape[0], -1)
        for _ in range(self.iterations):
            h = self.drop(torch.relu(self.fc1(torch.cat([features, theta], 1))))
            h = self.drop(torch.relu(self.fc2(h)))
            theta = theta + self.dec(h)
        return theta


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.joint_fc1, self.joint_fc2 = nn.Linear(9, 32), nn.Linear(32, 32)
        bound = 1.0 / math.sqrt(32)
        self.joint_head_weight = nn.Parameter(torch.empty(23, 32).uniform_(-bound, bound))
        self.joint_head_bias = nn.Parameter(torch.empty(23).uniform_(-bound, bound))
        self.pose = nn.Sequential(nn.Linear(736, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 1))
        self.shape = nn.Sequential(nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 5), nn.ReLU(), nn.Linear(5, 1))

    def forward(self, rotmats, betas):
        embed = torch.relu(self.joint_fc2(torch.relu(self.joint_fc1(rotmats[:, 1:].reshape(-1, 23, 9)))))
        per_joint = (embed * self.joint_head_weight).sum(-1) + self.joint_head_bias
        return torch.cat([per_joint, self.pose(embed.reshape(-1, 736)), self.shape(betas)], 1)


def rodrigues(aa):
    """(N, 3) -> (N, 3, 3), as smplx."""
    from smplx.lbs import batch_rodrigues
    return batch_rodrigues(aa)


class TorchHMR(nn.Module):
    """Encoder + regressor + smplx SMPL + weak-perspective projection of the cocoplus joints."""

    def __init__(self, smpl_path, cocoplus, init_theta):
        super().__init__()
        import smplx
        self.encoder = ResNet50()
        self.regressor = AxisAngleRegressor(2048, init_theta)
        self.smpl = smplx.SMPL(smpl_path)
        self.register_buffer("cocoplus", torch.as_tensor(cocoplus, dtype=torch.float32))

    def forward(self, images):
        theta = self.regressor(self.encoder(images))
        cam, pose, betas = theta[:, :3], theta[:, 3:75], theta[:, 75:]
        rotmats = rodrigues(pose.reshape(-1, 3)).reshape(-1, 24, 3, 3)
        out = self.smpl(betas=betas, body_pose=rotmats[:, 1:], global_orient=rotmats[:, :1], pose2rot=False)
        joints = torch.einsum("kv,bvc->bkc", self.cocoplus, out.vertices)
        keypoints = cam[:, None, :1] * (joints[:, :, :2] + cam[:, None, 1:])
        return rotmats, betas, joints, keypoints
