"""SPIN's HMR model in PyTorch (reference for the weight converters): torchvision ResNet-50
names at the top level + the 6D iterative head, as SPIN's ``models/hmr.py`` lays it out."""
import torch
from torch import nn

from tests.reference.torch_hmr import ResNet50


def rot6d_to_rotmat(x):
    """SPIN's Gram-Schmidt: (B, 144) -> (B * 24, 3, 3), columns b1, b2, b1 x b2."""
    x = x.reshape(-1, 3, 2)
    b1 = torch.nn.functional.normalize(x[:, :, 0], dim=1)
    b2 = torch.nn.functional.normalize(x[:, :, 1] - (b1 * x[:, :, 1]).sum(1, keepdim=True) * b1, dim=1)
    return torch.stack([b1, b2, torch.cross(b1, b2, dim=1)], dim=-1)


class SpinHMR(ResNet50):
    """One module, SPIN's key layout: conv1 ... layer4, fc1, fc2, decpose, decshape, deccam, init_*."""

    def __init__(self, init_pose, init_shape, init_cam):
        super().__init__()
        self.fc1 = nn.Linear(2048 + 144 + 10 + 3, 1024)
        self.drop1 = nn.Dropout()
        self.fc2 = nn.Linear(1024, 1024)
        self.drop2 = nn.Dropout()
        self.decpose, self.decshape, self.deccam = nn.Linear(1024, 144), nn.Linear(1024, 10), nn.Linear(1024, 3)
        self.register_buffer("init_pose", torch.as_tensor(init_pose, dtype=torch.float32).reshape(1, 144))
        self.register_buffer("init_shape", torch.as_tensor(init_shape, dtype=torch.float32).reshape(1, 10))
        self.register_buffer("init_cam", torch.as_tensor(init_cam, dtype=torch.float32).reshape(1, 3))

    def features(self, x):
        return ResNet50.forward(self, x)

    def forward(self, x, n_iter=3):
        features = self.features(x)
        batch = x.shape[0]
        pose, shape, cam = (self.init_pose.expand(batch, -1), self.init_shape.expand(batch, -1),
                            self.init_cam.expand(batch, -1))
        for _ in range(n_iter):
            h = self.drop2(self.fc2(self.drop1(self.fc1(torch.cat([features, pose, shape, cam], 1)))))
            pose, shape, cam = pose + self.decpose(h), shape + self.decshape(h), cam + self.deccam(h)
        return features, rot6d_to_rotmat(pose).reshape(batch, 24, 3, 3), shape, cam
