"""HybrIK's camera (``hybrik/models/HRNetWithCam.py``, ``forward`` and ``update_scale``): a pinhole of focal
length ``focal`` pixels at the ``input_size`` crop, whose scale s sets the root's depth
``f / (input_size s + 1e-9)``; joints back-projected from (u, v, d) with the crop's offset from the
image centre, in units of ``depth_factor`` metres.
"""
from mindspore import ops

DEPTH_EPS = 1e-9


def camera_depth(scale, focal, input_size):
    """The root's depth, metres: scale (B, 1, 1) -> (B, 1, 1)."""
    return focal / (input_size * scale + DEPTH_EPS)


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
    root = joints[:, 0] * depth_factor
    return root + ops.concat([ops.zeros_like(depth[:, 0, :1]), ops.zeros_like(depth[:, 0, :1]), depth[:, 0]], -1)


def refit_scale(uv, joints, weight, focal, input_size):
    """``update_scale``'s weighted least squares for 1/s: uv (B, K, 2) crop coordinates with the box
    offset added, joints (B, K, 3) metres placed at the predicted root, weight (B, K, 1)
    (``clamp(1 - 10 sigma, 0)``). Each joint asks ``x - (input_size / f) u z = (1/s) u w`` (and the same
    in y), weighted; the normal equation of one unknown is a ratio of sums. Returns s (B, 1, 1)."""
    a = uv * weight                                                             # (B, K, 2)
    b = (joints[..., :2] - (input_size / focal) * uv * joints[..., 2:]) * weight
    inverse = ops.sum(a * b, (1, 2), keepdim=True) / ops.sum(a * a, (1, 2), keepdim=True)
    return 1.0 / inverse
