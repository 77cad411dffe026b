"""The cameras that bring a model's 3D keypoints into its crop, as small Cells (registry: ``HMR/cameras``).

Every camera is ``camera(points (B, K, 3) metres, cam (B, 3) as (s, tx, ty), *extra)`` ->
keypoints (B, K, 2) in normalised crop coordinates [-1, 1]; ``extra`` are the architecture's
extra graph inputs in the spec's order (CLIFF's full-frame camera reads ``bbox_info``).
"""
from mindspore import nn

from HMR.constants import HMR2_FOCAL_OVER_CROP
from HMR.geometry import crop_perspective_projection, full_frame_crop_projection, weak_perspective_projection


class WeakPerspective(nn.Cell):
    """HMR's weak-perspective camera: ``s * (X + (tx, ty))``."""

    def construct(self, points, cam, *extra):
        return weak_perspective_projection(points, cam)


class FullFrameCrop(nn.Cell):
    """CLIFF's camera: the full image's perspective projection (focal length and box from the first
    extra input, ``bbox_info`` (B, 3)) brought into the crop."""

    def construct(self, points, cam, *extra):
        return full_frame_crop_projection(points, cam, extra[0])


class CropPerspective(nn.Cell):
    """A perspective camera on the crop itself, of focal length ``focal_over_crop`` crop sides (HMR 2.0:
    5000 px at 256 px); ``cam``'s scale sets the depth."""

    def __init__(self, focal_over_crop=HMR2_FOCAL_OVER_CROP):
        super().__init__()
        self.focal_over_crop = focal_over_crop

    def construct(self, points, cam, *extra):
        return crop_perspective_projection(points, cam, self.focal_over_crop)

