"""The graphs that are exported for deployment: images (and CLIFF's bbox_info) in, the four results out."""
from mindspore import nn, ops


class HMRExportNet(nn.Cell):
    """Wraps :class:`HMR.model.HMR` for inference graphs (no dropout).

    Input: images (B, 3, H, W) normalised RGB.
    Output: theta (B, 85) = ``[cam 3 | pose 72 axis-angle | betas 10]``, vertices
    (B, 6890, 3) metres, joints3d (B, K, 3) metres, keypoints2d (B, K, 2) normalised crop
    coordinates.
    """

    def __init__(self, model):
        super().__init__()
        self.model = model

    def construct(self, images):
        cam, pose, betas, _, vertices, joints3d, keypoints2d = self.model(images)
        return ops.concat([cam, pose, betas], 1), vertices, joints3d, keypoints2d


class CliffExportNet(HMRExportNet):
    """The same outputs for a model that also takes bbox_info (B, 3) (CLIFF) as a second input."""

    def construct(self, images, bbox_info):
        cam, pose, betas, _, vertices, joints3d, keypoints2d = self.model(images, None, bbox_info)
        return ops.concat([cam, pose, betas], 1), vertices, joints3d, keypoints2d


def export_net(model):
    """The export wrapper matching ``model``'s inputs."""
    return CliffExportNet(model) if model.takes_bbox_info else HMRExportNet(model)
