"""Crops around a person box, with the same affine map for the image and its keypoints.

Pixel convention: OpenCV's (pixel i's centre at coordinate i, so a crop of width ``W``
spans [-0.5, W - 0.5] and its centre is (W - 1) / 2). A crop is ``size`` = S (square) or
(H, W) pixels; the box's side ``b = 200 x scale`` maps onto the crop's height H, and a
non-square crop (CLIFF's 256 x 192) sees a box of b x b W / H. Crop pixels map to normalised
coordinates ``x_n = (2 x + 1 - W) / H``, ``y_n = (2 y + 1 - H) / H`` (HMR's weak-perspective
frame, one unit = half the box side on both axes): the box centre lands on 0, a square crop
spans [-1, 1], and a horizontal flip (``x -> W - 1 - x``) is exactly ``x_n -> -x_n``.
"""
import cv2
import numpy as np

BOX_UNIT = 200.0   # SPIN: scale = box side / 200 pixels


def crop_shape(size):
    """(height, width) of a crop given as S or (H, W)."""
    if np.ndim(size) == 0:
        return int(size), int(size)
    height, width = size
    return int(height), int(width)


def crop_matrix(center, scale, size, rotation_deg=0.0, flip=False):
    """2x3 affine map from image pixels to crop pixels.

    Args:
        center: (2,) box centre (x, y) in pixels; scale: box side / 200 (the crop's height).
        size: crop S or (H, W) in pixels.
        rotation_deg: counter-clockwise rotation of the content as displayed (y down).
        flip: mirror the crop horizontally.
    """
    height, width = crop_shape(size)
    zoom = height / (float(scale) * BOX_UNIT)
    angle = np.deg2rad(rotation_deg)
    c, s = np.cos(angle), np.sin(angle)
    linear = zoom * np.array([[c, s], [-s, c]])
    offset = np.array([(width - 1) / 2.0, (height - 1) / 2.0]) - linear @ np.asarray(center, np.float64)
    matrix = np.concatenate([linear, offset[:, None]], 1)
    if flip:
        matrix = np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0]]) @ np.vstack([matrix, [0, 0, 1]])
    return matrix


def crop_image(image, matrix, size):
    """Warp ``image`` (H, W, 3) uint8 with ``matrix`` into a crop of ``size``; outside the image is black."""
    height, width = crop_shape(size)
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def transform_points(points, matrix):
    """Apply a 2x3 affine map to (K, 2) points."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def to_normalized(points, size):
    """Crop pixels (..., 2) -> normalised crop coordinates (see the module docstring)."""
    height, width = crop_shape(size)
    return (2.0 * np.asarray(points) + 1.0 - np.array([width, height])) / height


def to_pixels(points, size):
    """Normalised crop coordinates (..., 2) -> crop pixels (inverse of :func:`to_normalized`)."""
    height, width = crop_shape(size)
    return (np.asarray(points) * height + np.array([width, height]) - 1.0) / 2.0


def in_plane_rotation(rotation_deg):
    """3x3 rotation of the camera frame (x right, y down) matching a crop rotated by ``rotation_deg``."""
    angle = np.deg2rad(rotation_deg)
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
