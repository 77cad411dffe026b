"""CLIFF's iterative regressor in PyTorch, laid out as CLIFF's ``models/cliff_*`` modules name it
(reference for the MindSpore head): fc1, drop1, fc2, drop2, decpose, decshape, deccam, init_*
buffers; input ``cat([features, bbox_info, pose, shape, cam])`` every iteration (HMR_FACTS)."""
import torch
from torch import nn

from tests.reference.torch_spin import add_iterative_head, iterate_head


class CliffRegressor(nn.Module):
    def __init__(self, init_pose, init_shape, init_cam, feature_dim=2048):
        super().__init__()
        add_iterative_head(self, feature_dim, init_pose, init_shape, init_cam, condition_dim=3)

    def forward(self, features, bbox_info, n_iter=3):
        return iterate_head(self, torch.cat([features, bbox_info], 1), n_iter)


class CliffResNet50(CliffRegressor):
    """CLIFF's ResNet-50 model as its checkpoints lay it out: ``encoder.*`` (torchvision ResNet-50
    names, global average pool) + the regressor's names at the top level."""

    def __init__(self, init_pose, init_shape, init_cam):
        super().__init__(init_pose, init_shape, init_cam, feature_dim=2048)
        from tests.reference.torch_hmr import ResNet50
        self.encoder = ResNet50()

    def forward(self, images, bbox_info, n_iter=3):
        return CliffRegressor.forward(self, self.encoder(images), bbox_info, n_iter)
