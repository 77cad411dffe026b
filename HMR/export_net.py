"""The graph that is exported for deployment: images (and the architecture's extra inputs) in, the
four results (``HMR.outputs.GRAPH_OUTPUTS``) out."""
from mindspore import nn, ops

from HMR.outputs import BETAS, CAM, JOINTS3D, KEYPOINTS2D, POSE, VERTICES


class ExportNet(nn.Cell):
    """Wraps :class:`HMR.model.HMR` for inference graphs (no dropout).

    Input: images (B, 3, H, W) normalised RGB, then the architecture's extra inputs (CLIFF: bbox_info
    (B, 3)).
    Output: theta (B, 85) = ``[cam 3 | pose 72 axis-angle | betas 10]`` (``HMR.outputs``), vertices
    (B, 6890, 3) metres, joints3d (B, K, 3) metres, keypoints2d (B, K, 2) normalised crop
    coordinates.
    """

    def __init__(self, model):
        super().__init__()
        self.model = model

    def construct(self, images, *extra):
        outputs = self.model(images, None, *extra)
        theta = ops.concat([outputs[CAM], outputs[POSE], outputs[BETAS]], 1)
        return theta, outputs[VERTICES], outputs[JOINTS3D], outputs[KEYPOINTS2D]


def export_net(model):
    """The export wrapper of ``model``."""
    return ExportNet(model)
