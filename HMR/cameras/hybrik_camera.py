"""HybrIK's camera (``hybrik/models/HRNetWithCam.py``, ``forward`` and ``update_scale``): a pinhole of focal
length ``focal`` pixels at the ``input_size`` crop, whose scale s sets the root's depth
``f / (input_size s + 1e-9)``; joints back-projected from (u, v, d) with the crop's offset from the
image centre, in units of ``depth_factor`` metres.
"""
import numpy as np
from mindspore import Tensor, nn, ops

from HMR.constants import HYBRIK_FOCAL, HYBRIK_INPUT_SIZE

DEPTH_EPS = 1e-9
_Z_AXIS = np.array([0.0, 0.0, 1.0], np.float32)


def over(numerator, tensor):
    """``numerator / tensor`` for a Python number as a broadcast division (a number over a tensor becomes a
    Reciprocal, which MindSpore's ONNX exporter does not write; a filled tensor would be a batch-sized
    constant in the exported graph)."""
    return ops.div(Tensor(numerator, tensor.dtype), tensor)


def camera_depth(scale, focal, input_size):
    """The root's depth, metres: scale (B, 1, 1) -> (B, 1, 1)."""
    return over(focal, input_size * scale + DEPTH_EPS)


def box_offset(boxes, image_centre):
    """Where the crop's centre lies from the image centre, in crop sides: boxes (B, 4) xyxy and
    image_centre (B, 2) pixels -> (B, 1, 2)."""
    size = boxes[:, 2:] - boxes[:, :2]
    centre = (boxes[:, :2] + boxes[:, 2:]) * 0.5
    return ((centre - image_centre) / size).reshape(-1, 1, 2)


def back_project(uvd, depth, offset, focal, input_size, depth_factor):
    """(u, v, d) (B, K, 3) at root depth ``depth`` (B, 1, 1) m, crop offset (B, 1, 2) -> joints (B, K, 3)
    in units of ``depth_factor`` (x, y from the pinhole at each joint's depth, z = d; not yet
    root-relative)."""
    d = uvd[..., 2:]
    xy = (uvd[..., :2] + offset) * (input_size / focal) * (d * depth_factor + depth)
    return ops.concat([xy / depth_factor, d], -1)


def camera_root(joints, depth, depth_factor):
    """The root in camera coordinates (B, 3), metres: the back-projected root (``joints`` (B, K, 3) in
    ``depth_factor`` units) with the root depth (B, 1, 1) added to z."""
    return joints[:, 0] * depth_factor + depth[:, 0] * Tensor(_Z_AXIS)


def refit_scale(uv, joints, weight, focal, input_size):
    """``update_scale``'s weighted least squares for 1/s: uv (B, K, 2) crop coordinates with the box
    offset added, joints (B, K, 3) metres placed at the predicted root, weight (B, K, 1)
    (``clamp(1 - 10 sigma, 0)``). Each joint asks ``x - (input_size / f) u z = (1/s) u w`` (and the same
    in y), weighted; the normal equation of one unknown is a ratio of sums. Returns s (B, 1, 1)."""
    a = uv * weight                                                             # (B, K, 2)
    b = (joints[..., :2] - (input_size / focal) * uv * joints[..., 2:]) * weight
    inverse = ops.sum(a * b, (1, 2), keepdim=True) / ops.sum(a * a, (1, 2), keepdim=True)
    return over(1.0, inverse)


def project(points, translation, offset, focal, input_size):
    """Points (B, K, 3) m, placed at ``translation`` (B, 3) in HybrIK's camera (focal ``focal`` px at the
    ``input_size`` crop, principal point the image centre) -> normalised crop coordinates (B, K, 2) in
    [-1, 1] of the crop whose centre lies ``offset`` (B, 1, 2) crop sides from the image centre."""
    placed = points + translation.expand_dims(1)
    return 2.0 * (focal / input_size) * placed[..., :2] / placed[..., 2:] - 2.0 * offset


def weak_perspective(translation, offset, focal, input_size):
    """HMR's (s, tx, ty) (B, 3) equivalent to placing a body at ``translation`` (B, 3) in HybrIK's camera:
    exact at the body's origin, ``s = 2 f / (input_size z)``, ``(tx, ty) = (x, y) - 2 offset / s``."""
    scale = over(2.0 * focal, input_size * translation[:, 2:])
    return ops.concat([scale, translation[:, :2] - 2.0 * offset[:, 0] / scale], -1)


class HybrIKCamera(nn.Cell):
    """HybrIK's pinhole as a model camera (``HMR/cameras``): ``camera(points (B, K, 3) m, cam (B, 3), bbox (B, 4),
    image_center (B, 2))`` -> (B, K, 2) in [-1, 1] of the crop. ``cam`` is the weak-perspective equivalent of the
    body's translation (:func:`weak_perspective`), inverted here exactly, so the projection is perspective."""

    def __init__(self, focal=HYBRIK_FOCAL, input_size=HYBRIK_INPUT_SIZE):
        super().__init__()
        self.focal, self.input_size = focal, input_size

    def construct(self, points, cam, *extra):
        offset = box_offset(extra[0], extra[1])
        depth = over(2.0 * self.focal, self.input_size * cam[:, :1])
        translation = ops.concat([cam[:, 1:] + 2.0 * offset[:, 0] / cam[:, :1], depth], -1)
        return project(points, translation, offset, self.focal, self.input_size)
