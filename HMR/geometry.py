"""Rotation and camera helpers (pure MindSpore functions, differentiable, any batch size).

Conventions: rotation matrices act on column vectors, axis-angle vectors are in radians,
the 6D representation is the first two columns of R laid out
``[R00, R01, R10, R11, R20, R21]`` (SPIN / mmpose layout). The rotation conversions take
any leading shape and keep the batch axis first, so an exported graph's batch-sized
reshapes can be freed (``src/deployment/export.py``).
"""
import numpy as np
from mindspore import Tensor, ops

from HMR.constants import CLIFF_BBOX_OFFSET_GAIN, CLIFF_BBOX_SIZE_MEAN, CLIFF_BBOX_SIZE_SPREAD

_RODRIGUES_EPS = 1e-8     # added before the norm so that a zero vector gives exactly I
_SQRT_FLOOR = 1e-6        # keeps unselected quaternion branches finite (and their grads)
_SMALL_ANGLE = 1e-6       # below this |sin(angle/2)| the series expansion is used
_NORMALIZE_EPS = 1e-12    # torch.nn.functional.normalize's default eps
_EYE_FLAT = np.eye(3, dtype=np.float32).reshape(1, 9)
# a (N, 3) @ this (3, 9) = the row-major cross-product matrices [[0, -z, y], [z, 0, -x], [-y, x, 0]]
_CROSS_MATRIX_OF_AXIS = np.array([[0, 0, 0, 0, 0, -1, 0, 1, 0],
                                  [0, 0, 1, 0, 0, 0, -1, 0, 0],
                                  [0, -1, 0, 1, 0, 0, 0, 0, 0]], np.float32)


def batch_rodrigues(rot_vecs):
    """Axis-angle vectors to rotation matrices.

    ``R = cos(t) I + (1 - cos(t)) a a^T + sin(t) [a]_x`` with the cross-product matrix built by
    one product with a constant (few kernels: their count, not their size, is what a small
    batch pays for, e.g. in the refinement's 30 steps).

    Args:
        rot_vecs: (N, 3) float32 axis-angle, radians.
    Returns:
        (N, 3, 3) rotation matrices; exactly the identity for a zero vector.
    """
    angle = ops.sqrt(ops.sum(ops.square(rot_vecs + _RODRIGUES_EPS), -1, keepdim=True))
    axis = rot_vecs / angle
    cos = ops.cos(angle)
    outer = (axis.reshape(-1, 3, 1) * axis.reshape(-1, 1, 3)).reshape(-1, 9)
    flat = (cos * Tensor(_EYE_FLAT) + (1.0 - cos) * outer
            + ops.sin(angle) * ops.matmul(axis, Tensor(_CROSS_MATRIX_OF_AXIS)))
    return flat.reshape(-1, 3, 3)


def _last_axis_pieces(x, count):
    """``count`` slices of width 1 along the last axis of ``x`` (..., count)."""
    return [x[..., i:i + 1] for i in range(count)]


def rotmat_to_quaternion(rotmats):
    """Rotation matrices to unit quaternions (w, x, y, z) with w >= 0.

    Shepperd's method: of the four algebraically equal formulas the one with the largest
    square root is taken per sample, which keeps it accurate for every angle up to pi.
    Written in ops every exporter has (no stack, one-hot or reciprocal).

    Args:
        rotmats: (..., 3, 3).
    Returns:
        (..., 4) quaternions, scalar first.
    """
    m = rotmats.reshape(rotmats.shape[:-2] + (9,))
    r00, r01, r02, r10, r11, r12, r20, r21, r22 = _last_axis_pieces(m, 9)
    diag = ops.concat([r00 + r11 + r22, r00, r11, r22], -1)
    root = [ops.sqrt(ops.maximum(1.0 + arg, _SQRT_FLOOR)) * 0.5 for arg in (
        r00 + r11 + r22, r00 - r11 - r22, r11 - r00 - r22, r22 - r00 - r11)]
    w_b, x_b, y_b, z_b = root
    candidates = [
        ops.concat([w_b, (r21 - r12) / (4 * w_b), (r02 - r20) / (4 * w_b), (r10 - r01) / (4 * w_b)], -1),
        ops.concat([(r21 - r12) / (4 * x_b), x_b, (r01 + r10) / (4 * x_b), (r02 + r20) / (4 * x_b)], -1),
        ops.concat([(r02 - r20) / (4 * y_b), (r01 + r10) / (4 * y_b), y_b, (r12 + r21) / (4 * y_b)], -1),
        ops.concat([(r10 - r01) / (4 * z_b), (r02 + r20) / (4 * z_b), (r12 + r21) / (4 * z_b), z_b], -1),
    ]
    best = ops.argmax(diag, -1, keepdim=True)                        # (..., 1)
    quat = candidates[0] * ops.cast(ops.equal(best, 0), rotmats.dtype)
    for k in range(1, 4):
        quat = quat + candidates[k] * ops.cast(ops.equal(best, k), rotmats.dtype)
    negative = ops.cast(quat[..., 0:1] < 0, rotmats.dtype)
    return quat * (1.0 - 2.0 * negative)


def quaternion_to_rotmat(quaternions):
    """Quaternions (..., 4) as (w, x, y, z), any norm (normalised here), to rotation matrices (..., 3, 3)."""
    q = _normalize(quaternions)
    w, x, y, z = _last_axis_pieces(q, 4)
    rows = [ops.concat([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            ops.concat([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            ops.concat([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1)]
    return ops.concat(rows, -1).reshape(quaternions.shape[:-1] + (3, 3))


def _atan_unit(t):
    """``atan(t)`` for t in [0, 1] in Mul/Add/Sqrt/Div only: MindSpore 2.10's ONNX export has no Atan
    and writes Atan2 with Sign, which MindSpore Lite's converter refuses. Two half-angle steps
    ``atan(t) = 2 atan(t / (1 + sqrt(1 + t^2)))`` bring t below tan(pi/16) ~ 0.2, where the odd
    Taylor series to t^13 is off by < 0.2^15 / 15 ~ 2e-12 rad."""
    for _ in range(2):
        t = t / (1.0 + ops.sqrt(1.0 + ops.square(t)))
    t2 = ops.square(t)
    series = 1.0 / 13.0                          # Horner: 1 - t^2/3 + t^4/5 - ... + t^12/13
    for k in (11, 9, 7, 5, 3, 1):
        series = 1.0 / k - t2 * series
    return 4.0 * t * series


def rotmat_to_axis_angle(rotmats):
    """Rotation matrices to axis-angle vectors, stable near angle 0 and near pi.

    Args:
        rotmats: (..., 3, 3).
    Returns:
        (..., 3) axis-angle in radians, angle in [0, pi].
    """
    quat = rotmat_to_quaternion(rotmats)
    w, vec = quat[..., 0:1], quat[..., 1:]
    sin_half = ops.sqrt(ops.sum(ops.square(vec), -1, keepdim=True) + 1e-20)
    safe_sin = ops.maximum(sin_half, _SMALL_ANGLE)
    # atan2(s, w) = 2 atan(s / (|q| + w)) with w >= 0, so the ratio is in [0, 1]
    ratio = sin_half / (ops.sqrt(ops.square(sin_half) + ops.square(w)) + w)
    factor_general = 4.0 * _atan_unit(ratio) / safe_sin
    # 2*atan2(s, w)/s = (2/w) * (1 - s^2 / (3 w^2) + ...) for small s (then w ~ 1); w is
    # replaced where the branch is not used so that neither branch yields inf (nor NaN grads)
    is_large = sin_half > _SMALL_ANGLE
    w_small = w + ops.cast(is_large, w.dtype) * (1.0 - w)          # 1 where the branch is unused
    factor_small = (2.0 - 2.0 * ops.square(sin_half) / (3.0 * ops.square(w_small))) / w_small
    factor = ops.select(is_large, factor_general, factor_small)
    return vec * factor


def _normalize(v):
    """``v / max(|v|, 1e-12)`` along the last axis (torch's ``F.normalize``, as SPIN and mmpose use);
    the floor is applied to the squared norm so the gradient stays finite at 0."""
    return v / ops.sqrt(ops.maximum(ops.sum(ops.square(v), -1, keepdim=True), _NORMALIZE_EPS ** 2))


ROT6D_LAYOUTS = ("spin", "hmr2")


def rot6d_to_rotmat(x, layout="spin"):
    """6D rotation representation to rotation matrices by Gram-Schmidt.

    Args:
        x: (..., 6). ``layout`` says where the two columns lie: ``spin`` (SPIN, CLIFF, Meta-HMR:
            ``view(-1, 3, 2)``) ``[R00, R01, R10, R11, R20, R21]``, columns ``x[..., 0::2]`` and
            ``x[..., 1::2]``; ``hmr2`` (4D-Humans: ``reshape(-1, 2, 3).permute(0, 2, 1)``) the first
            column then the second, ``x[..., :3]`` and ``x[..., 3:]``.
    Returns:
        (..., 3, 3) with columns b1, b2, b3 = b1 x b2.
    """
    if layout not in ROT6D_LAYOUTS:
        raise ValueError(f"6D layout must be one of {ROT6D_LAYOUTS}, got {layout!r}")
    a1, a2 = (x[..., 0::2], x[..., 1::2]) if layout == "spin" else (x[..., :3], x[..., 3:])
    b1 = _normalize(a1)
    b2 = _normalize(a2 - ops.sum(b1 * a2, -1, keepdim=True) * b1)
    b3 = cross(b1, b2)
    rows = [ops.concat([b1[..., i:i + 1], b2[..., i:i + 1], b3[..., i:i + 1]], -1) for i in range(3)]
    return ops.concat(rows, -1).reshape(x.shape[:-1] + (3, 3))


def rotmat_to_rot6d(rotmats):
    """Rotation matrices (..., 3, 3) to the 6D representation (..., 6) (first two columns)."""
    return rotmats[..., :2].reshape(rotmats.shape[:-2] + (6,))


def cross(a, b):
    """Cross product of (..., 3) vectors along the last axis."""
    ax, ay, az = _last_axis_pieces(a, 3)
    bx, by, bz = _last_axis_pieces(b, 3)
    return ops.concat([ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx], -1)


def weak_perspective_projection(points, cam):
    """HMR's weak-perspective camera.

    Args:
        points: (B, K, 3) 3D points, model units (metres).
        cam: (B, 3) as (s, tx, ty).
    Returns:
        (B, K, 2) image points in crop coordinates normalised to [-1, 1]:
        ``s * (X[:, :, :2] + [tx, ty])``. Pixels in a crop of side L (pixel centres at
        integers): ``((x + 1) * L - 1) / 2``.
    """
    scale = cam[:, 0:1].reshape(-1, 1, 1)
    trans = cam[:, 1:3].reshape(-1, 1, 2)
    return scale * (points[:, :, :2] + trans)


def weak_perspective_to_translation(cam, focal_length=5000.0, crop_size=224.0):
    """Perspective camera translation equivalent to a weak-perspective camera.

    Args:
        cam: (B, 3) as (s, tx, ty).
        focal_length: pixels (SPIN uses 5000).
        crop_size: crop side in pixels.
    Returns:
        (B, 3) translation (tx, ty, 2 f / (crop_size * s)), metres.
    """
    depth = 2.0 * focal_length / (crop_size * cam[:, 0:1] + 1e-9)
    return ops.concat([cam[:, 1:3], depth], -1)


def crop_perspective_projection(points, cam, focal_over_crop):
    """HMR 2.0's 2D keypoints: a perspective camera of focal ``focal_over_crop`` crop sides (5000 / 256)
    about the crop centre, at translation ``(tx, ty, 2 f / (L s))`` (``hmr2.py`` ``forward_step``).

    With k = ``focal_over_crop``, 4D-Humans' ``k (X + t) / (Z + 2 k / s)`` in [-1/2, 1/2] is, doubled into
    this project's [-1, 1] frame, ``s (X + t) / (1 + s Z / (2 k))`` (written so: no scalar-over-tensor
    division, which ONNX export lacks).

    Args:
        points: (B, K, 3) metres; cam: (B, 3) as (s, tx, ty); focal_over_crop: float.
    Returns:
        (B, K, 2) normalised crop coordinates (the weak-perspective frame; equal to it at Z = 0).
    """
    scale = cam[:, 0:1].reshape(-1, 1, 1)
    numerator = points[:, :, :2] + cam[:, 1:3].reshape(-1, 1, 2)
    return scale * numerator / (points[:, :, 2:3] * scale * (0.5 / focal_over_crop) + 1.0)


def full_frame_crop_projection(points, cam, bbox_info):
    """CLIFF's 2D keypoints: the full-image perspective projection, brought into the crop.

    The crop camera (s, tx, ty) becomes CLIFF's full-image translation (``tz = 2 f / (b s)``,
    ``tx + 2 (cx - W/2) / (b s)``, ``ty + 2 (cy - H/2) / (b s)``; the demo's
    ``PersonCrop.camera_translation``); the points are projected with focal f about the image
    centre and mapped into the crop's normalised frame, ``u = 2 (x - c) / b``. Everything scales
    with f, so ``bbox_info`` alone fixes the result: with ``d = (c - image centre) / f`` and
    ``r = b / f`` (its inputs undone) the composition simplifies to
    ``u = s (X + t - d Z) / (1 + Z r s / 2)`` - no scalar-over-tensor division, which ONNX
    export would turn into an unsupported Reciprocal.

    Args:
        points: (B, K, 3) metres; cam: (B, 3) as (s, tx, ty); bbox_info: (B, 3) CLIFF's
            (``src/data/frame.py``).
    Returns:
        (B, K, 2) normalised crop coordinates (the weak-perspective projection's frame;
        equal to it for points at the body's depth, Z = 0).
    """
    offset = (bbox_info[:, 0:2] * (1.0 / CLIFF_BBOX_OFFSET_GAIN)).reshape(-1, 1, 2)             # d
    side = bbox_info[:, 2:3] * CLIFF_BBOX_SIZE_SPREAD + CLIFF_BBOX_SIZE_MEAN                   # r, (B, 1)
    scale = cam[:, 0:1].reshape(-1, 1, 1)
    depth = points[:, :, 2:3]
    numerator = points[:, :, :2] + cam[:, 1:3].reshape(-1, 1, 2) - offset * depth
    denominator = depth * (side * cam[:, 0:1] * 0.5).reshape(-1, 1, 1) + 1.0
    return scale * numerator / denominator
