"""Crops around a person box, with the same affine map for the image and its keypoints.

Pixel convention: OpenCV's (pixel i's centre at coordinate i, so a crop of side ``L``
spans [-0.5, L - 0.5] and its centre is (L - 1) / 2). Crop pixels map to normalised
coordinates ``x_n = (2 x + 1) / L - 1`` in [-1, 1] (HMR's weak-perspective frame): the box
centre lands on 0 and a horizontal flip (``x -> L - 1 - x``) is exactly ``x_n -> -x_n``.
"""
import cv2
import numpy as np

BOX_UNIT = 200.0   # SPIN: scale = box side / 200 pixels


def crop_matrix(center, scale, out_size, rotation_deg=0.0, flip=False):
    """2x3 affine map from image pixels to crop pixels.

    Args:
        center: (2,) box centre (x, y) in pixels; scale: box side / 200.
        out_size: crop side in pixels.
        rotation_deg: counter-clockwise rotation of the content as displayed (y down).
        flip: mirror the crop horizontally.
    """
    side = float(scale) * BOX_UNIT
    zoom = out_size / side
    angle = np.deg2rad(rotation_deg)
    c, s = np.cos(angle), np.sin(angle)
    linear = zoom * np.array([[c, s], [-s, c]])
    offset = (out_size - 1) / 2.0 - linear @ np.asarray(center, np.float64)
    matrix = np.concatenate([linear, offset[:, None]], 1)
    if flip:
        matrix = np.array([[-1.0, 0.0, out_size - 1.0], [0.0, 1.0, 0.0]]) @ np.vstack([matrix, [0, 0, 1]])
    return matrix


def crop_image(image, matrix, out_size):
    """Warp ``image`` (H, W, 3) uint8 with ``matrix``; outside the image is black."""
    return cv2.warpAffine(image, matrix, (out_size, out_size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def transform_points(points, matrix):
    """Apply a 2x3 affine map to (K, 2) points."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def to_normalized(points, size):
    """Crop pixels (..., 2) -> normalised crop coordinates in [-1, 1]."""
    return (2.0 * np.asarray(points) + 1.0) / size - 1.0


def to_pixels(points, size):
    """Normalised crop coordinates (..., 2) -> crop pixels (inverse of :func:`to_normalized`)."""
    return ((np.asarray(points) + 1.0) * size - 1.0) / 2.0


def in_plane_rotation(rotation_deg):
    """3x3 rotation of the camera frame (x right, y down) matching a crop rotated by ``rotation_deg``."""
    angle = np.deg2rad(rotation_deg)
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
