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


def add_iterative_head(module, feature_dim, init_pose, init_shape, init_cam, condition_dim=0):
    """Give ``module`` SPIN's head under SPIN's names: fc1 (features + condition + 144 + 10 + 3 ->
    1024), drop1, fc2, drop2, decpose, decshape, deccam and the init_* buffers (CLIFF's head is
    the same with its 3 bbox_info inputs as the condition)."""
    module.fc1 = nn.Linear(feature_dim + condition_dim + 144 + 10 + 3, 1024)
    module.drop1 = nn.Dropout()
    module.fc2 = nn.Linear(1024, 1024)
    module.drop2 = nn.Dropout()
    module.decpose, module.decshape, module.deccam = nn.Linear(1024, 144), nn.Linear(1024, 10), nn.Linear(1024, 3)
    module.register_buffer("init_pose", torch.as_tensor(init_pose, dtype=torch.float32).reshape(1, 144))
    module.register_buffer("init_shape", torch.as_tensor(init_shape, dtype=torch.float32).reshape(1, 10))
    module.register_buffer("init_cam", torch.as_tensor(init_cam, dtype=torch.float32).reshape(1, 3))


def iterate_head(module, inputs, n_iter):
    """SPIN's loop: ``inputs`` (features, or CLIFF's [features, bbox_info]) + the running estimate
    through fc1/fc2, residual updates. Returns pose 6D (B, 144), shape (B, 10), cam (B, 3)."""
    batch = inputs.shape[0]
    pose, shape, cam = (module.init_pose.expand(batch, -1), module.init_shape.expand(batch, -1),
                        module.init_cam.expand(batch, -1))
    for _ in range(n_iter):
        h = module.drop2(module.fc2(module.drop1(module.fc1(torch.cat([inputs, pose, shape, cam], 1)))))
        pose, shape, cam = pose + module.decpose(h), shape + module.decshape(h), cam + module.deccam(h)
    return pose, shape, cam


class SpinHMR(ResNet50):
    """One module, SPIN's key layout: conv1 ... layer4, fc1, fc2, decpose, decshape, deccam, init_*."""

    def __init__(self, init_pose, init_shape, init_cam):
        super().__init__()
        add_iterative_head(self, 2048, init_pose, init_shape, init_cam)

    def features(self, x):
        return ResNet50.forward(self, x)

    def forward(self, x, n_iter=3):
        features = self.features(x)
        pose, shape, cam = iterate_head(self, features, n_iter)
        return features, rot6d_to_rotmat(pose).reshape(x.shape[0], 24, 3, 3), shape, cam
