"""Where a crop lies in its full image: CLIFF's frame information.

A crop's ``frame`` vector (6,) float32, fields in ``FRAME_FIELDS`` order:
box centre (x, y) and side b in full-image pixels (after augmentation), the full image's
height and width, and the focal length f in pixels (the dataset's ``focal_length`` when it
has one, else CLIFF's ``sqrt(W^2 + H^2)``). ``bbox_info`` turns it into the regressor's 3 inputs.

Image sizes come from the dataset's ``orig_shape`` key (N, 2) = (H, W); SPIN/mmpose files
lack it, so they are read once from the image headers and cached beside the npz
(``<file>.image_sizes.npz``, checked against ``imgname``).
"""
import logging
import os
import struct

import cv2
import numpy as np

from HMR.constants import CLIFF_BBOX_OFFSET_GAIN, CLIFF_BBOX_SIZE_MEAN, CLIFF_BBOX_SIZE_SPREAD
from model_utils.atomic_files import atomic_write

logger = logging.getLogger(__name__)

FRAME_FIELDS = ("center_x", "center_y", "box_side", "image_height", "image_width", "focal_length")
CENTER, SIDE, IMAGE_HW, FOCAL = slice(0, 2), 2, slice(3, 5), 5
SIZE_CACHE_SUFFIX = ".image_sizes.npz"
_JPEG_SOF = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}   # start-of-frame markers (not DHT, JPG, DAC)


def default_focal_length(height, width, focal_over_image_side=0.0):
    """The focal length in pixels an architecture assumes for an image of unknown intrinsics
    (``HMR.architectures.ArchitectureSpec.focal_over_image_side``): 0 = CLIFF's (and HMR's, for placing
    meshes) the image diagonal; else that many pixels per pixel of the longer side (HMR 2.0:
    ``5000 / 256 x max(H, W)``, 4D-Humans' ``cam_crop_to_full`` with ``scaled_focal_length``)."""
    if focal_over_image_side:
        return focal_over_image_side * max(float(height), float(width))
    return np.hypot(np.float64(height), np.float64(width))


def make_frame(center, box_side, image_hw, focal_length):
    """(6,) float32 frame vector of one crop (see the module docstring)."""
    return np.array([center[0], center[1], box_side, image_hw[0], image_hw[1], focal_length], np.float32)


def bbox_info(frame):
    """CLIFF's bbox_info (Li et al., ECCV 2022) of frames (..., 6) -> (..., 3) float32.

    ``[(cx - W/2) / f * 2.8, (cy - H/2) / f * 2.8, (b - 0.24 f) / (0.06 f)]``, with the image
    centre at ((W - 1) / 2, (H - 1) / 2) in this project's pixel-centre coordinates (the same
    point as CLIFF's W / 2 in pixel-corner coordinates).
    """
    frame = np.asarray(frame, np.float64)
    focal = frame[..., FOCAL:FOCAL + 1]
    centre = (frame[..., IMAGE_HW][..., ::-1] - 1.0) / 2.0
    offset = (frame[..., CENTER] - centre) / focal * CLIFF_BBOX_OFFSET_GAIN
    side = (frame[..., SIDE:SIDE + 1] - CLIFF_BBOX_SIZE_MEAN * focal) / (CLIFF_BBOX_SIZE_SPREAD * focal)
    return np.concatenate([offset, side], -1).astype(np.float32)


def square_box(frame):
    """The crop's square box of frames (..., 6) as xyxy (..., 4) float32 in full-image pixels (HybrIK's
    ``bbox`` input: the box the crop was cut from, after its enlargement)."""
    frame = np.asarray(frame, np.float64)
    half = frame[..., SIDE:SIDE + 1] / 2.0
    return np.concatenate([frame[..., CENTER] - half, frame[..., CENTER] + half], -1).astype(np.float32)


def image_center(frame):
    """The full image's centre (..., 2) float32 as HybrIK computes it, ``(W / 2, H / 2)`` (its ``img_center``;
    the box is in the same pixel coordinates, so the pinhole's principal point is where HybrIK puts it)."""
    frame = np.asarray(frame, np.float64)
    return (frame[..., IMAGE_HW][..., ::-1] / 2.0).astype(np.float32)


def _jpeg_size(handle):
    handle.seek(2)
    while True:
        marker = handle.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            return None
        while marker[1] == 0xFF:                       # fill bytes
            marker = marker[1:] + handle.read(1)
        length = struct.unpack(">H", handle.read(2))[0]
        if marker[1] in _JPEG_SOF:
            height, width = struct.unpack(">xHH", handle.read(5))
            return height, width
        handle.seek(length - 2, os.SEEK_CUR)


def image_size_from_header(path):
    """(height, width) of an image file from its header (JPEG, PNG; other formats are decoded),
    or None when the file is missing or unreadable."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(24)
            if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
                width, height = struct.unpack(">II", head[16:24])
                return int(height), int(width)
            if head[:2] == b"\xff\xd8":
                size = _jpeg_size(handle)
                if size:
                    return size
    except (OSError, struct.error):
        return None
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    return None if image is None else tuple(int(v) for v in image.shape[:2])


def read_image_sizes(npz_path, imgnames, image_root):
    """(N, 2) int32 (height, width) of every image of a dataset, -1 where unreadable.

    Read once from the image headers and cached in ``<npz_path>.image_sizes.npz`` (when the
    folder is writable); a cache whose ``imgname`` differs from the file's is rebuilt.
    """
    cache = npz_path + SIZE_CACHE_SUFFIX
    if os.path.isfile(cache):
        with np.load(cache, allow_pickle=False) as stored:
            if np.array_equal(stored["imgname"], imgnames):
                return stored["orig_shape"]
    logger.info("%s has no orig_shape: reading %d image headers (once)", npz_path, len(imgnames))
    sizes = np.full((len(imgnames), 2), -1, np.int32)
    for i, name in enumerate(imgnames):
        size = image_size_from_header(os.path.join(image_root, name))
        if size:
            sizes[i] = size
    if (sizes < 0).any():
        logger.warning("%s: %d image(s) unreadable, their frames use the box as the image",
                       npz_path, int((sizes[:, 0] < 0).sum()))
    try:
        with atomic_write(cache) as handle:
            np.savez(handle, imgname=np.asarray(imgnames), orig_shape=sizes)
    except OSError as err:
        logger.warning("could not cache image sizes in %s (%s)", cache, err)
    return sizes
