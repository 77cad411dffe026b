"""The graph that is exported for deployment: images in, the four HMR results out."""
from mindspore import nn, ops


class HMRExportNet(nn.Cell):
    """Wraps :class:`HMR.model.HMR` for inference graphs (no dropout).

    Input: images (B, 3, S, S) normalised RGB.
    Output: theta (B, 85) = ``[cam 3 | pose 72 axis-angle | betas 10]``, vertices
    (B, 6890, 3) metres, joints3d (B, K, 3) metres, keypoints2d (B, K, 2) in [-1, 1].
    """

    def __init__(self, model):
        super().__init__()
        self.model = model

    def construct(self, images):
        cam, pose, betas, _, vertices, joints3d, keypoints2d = self.model(images)
        return ops.concat([cam, pose, betas], 1), vertices, joints3d, keypoints2d
