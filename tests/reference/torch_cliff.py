"""CLIFF's iterative regressor in PyTorch, laid out as CLIFF's ``models/cliff_*`` modules name it
(reference for the MindSpore head): fc1, drop1, fc2, drop2, decpose, decshape, deccam, init_*
buffers; input ``cat([features, bbox_info, pose, shape, cam])`` every iteration (HMR_FACTS)."""
import torch
from torch import nn


class CliffRegressor(nn.Module):
    def __init__(self, init_pose, init_shape, init_cam, feature_dim=2048):
        super().__init__()
        self.fc1 = nn.Linear(feature_dim + 3 + 144 + 10 + 3, 1024)
        self.drop1 = nn.Dropout()
        self.fc2 = nn.Linear(1024, 1024)
        self.drop2 = nn.Dropout()
        self.decpose, self.decshape, self.deccam = nn.Linear(1024, 144), nn.Linear(1024, 10), nn.Linear(1024, 3)
        self.register_buffer("init_pose", torch.as_tensor(init_pose, dtype=torch.float32).reshape(1, 144))
        self.register_buffer("init_shape", torch.as_tensor(init_shape, dtype=torch.float32).reshape(1, 10))
        self.register_buffer("init_cam", torch.as_tensor(init_cam, dtype=torch.float32).reshape(1, 3))

    def forward(self, features, bbox_info, n_iter=3):
        batch = features.shape[0]
        pose, shape, cam = (self.init_pose.expand(batch, -1), self.init_shape.expand(batch, -1),
                            self.init_cam.expand(batch, -1))
        for _ in range(n_iter):
            xc = torch.cat([features, bbox_info, pose, shape, cam], 1)
            h = self.drop2(self.fc2(self.drop1(self.fc1(xc))))
            pose, shape, cam = pose + self.decpose(h), shape + self.decshape(h), cam + self.deccam(h)
        return pose, shape, cam


class CliffResNet50(CliffRegressor):
    """CLIFF's ResNet-50 model as its checkpoints lay it out: ``encoder.*`` (torchvision ResNet-50
    names, global average pool) + the regressor's names at the top level."""

    def __init__(self, init_pose, init_shape, init_cam):
        super().__init__(init_pose, init_shape, init_cam, feature_dim=2048)
        from tests.reference.torch_hmr import ResNet50
        self.encoder = ResNet50()

    def forward(self, images, bbox_info, n_iter=3):
        return CliffRegressor.forward(self, self.encoder(images), bbox_info, n_iter)
