"""Person boxes of the image demo: parsing, the crop they define, and the full-image camera.

Boxes are ``x, y, w, h`` in pixels with (x, y) the top-left corner of the box's first pixel
(COCO style). Pixel centres are at integer coordinates (``src/data/crop.py``), so a box
covering pixels x..x+w-1 has centre x + (w - 1) / 2; a given box is used exactly as given,
grown to the crop's aspect ratio (side = max(w H / W, h) x ``bbox_scale`` for an H x W crop,
as CLIFF does): a full-image box on an image of the crop's shape is an identity crop.
"""
import json
import os

import numpy as np

from model_utils.errors import UserInputError
from src.data.crop import BOX_UNIT, crop_image, crop_matrix, crop_shape, to_normalized, to_pixels, transform_points
from src.data.frame import make_frame


def parse_bbox(text, origin="--bbox"):
    """'x,y,w,h' (or a 4-list) -> float array (4,), with a clear error."""
    try:
        values = [float(v) for v in (text.split(",") if isinstance(text, str) else text)]
    except (TypeError, ValueError):
        values = []
    if len(values) != 4 or values[2] <= 0 or values[3] <= 0:
        raise UserInputError(f"{origin}: expected x,y,w,h with w, h > 0, got {text!r}")
    return np.asarray(values, np.float64)


def read_bbox_file(path):
    """JSON ``{"image name": [x, y, w, h], ...}`` (or one box for every image)."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as err:
        raise UserInputError(f"--bbox_file: cannot read {path} as JSON ({err})") from err
    if isinstance(data, list):
        return {None: parse_bbox(data, f"{path}")}
    if not isinstance(data, dict):
        raise UserInputError(f"{path}: expected an object mapping image names to [x, y, w, h]")
    return {os.path.basename(k): parse_bbox(v, f"{path}: '{k}'") for k, v in data.items()}


def box_overlaps_image(box, image_shape):
    """Whether an x, y, w, h box shares at least part of a pixel with an image of (height, width)."""
    x, y, w, h = box
    height, width = image_shape
    return x < width and y < height and x + w > 0 and y + h > 0


def box_to_center_scale(box, bbox_scale=1.0, aspect=1.0):
    """(4,) x, y, w, h -> (centre (2,), scale = side / 200) for a crop of height / width ``aspect``."""
    x, y, w, h = box
    return np.array([x + (w - 1) / 2.0, y + (h - 1) / 2.0]), max(w * aspect, h) * bbox_scale / BOX_UNIT


def whole_image_box(height, width):
    """The square box centred on the image that contains all of it."""
    side = max(height, width)
    return np.array([(width - side) / 2.0, (height - side) / 2.0, side, side])


class PersonCrop:
    """The crop of one box: image -> crop of ``crop_size`` (S or (H, W)) and crop coordinates -> image pixels."""

    def __init__(self, box, crop_size, bbox_scale=1.0):
        self.box = np.asarray(box, np.float64)
        height, width = crop_shape(crop_size)
        self.center, self.scale = box_to_center_scale(self.box, bbox_scale, height / width)
        self.crop_size = crop_size
        self.matrix = crop_matrix(self.center, self.scale, crop_size)
        self.inverse = np.linalg.inv(np.vstack([self.matrix, [0, 0, 1]]))[:2]

    def crop(self, image):
        return crop_image(image, self.matrix, self.crop_size)

    def to_image(self, normalized):
        """Normalised crop points (..., 2) -> full-image pixels."""
        return transform_points(to_pixels(normalized, self.crop_size).reshape(-1, 2), self.inverse).reshape(
            np.shape(normalized))

    def to_crop(self, pixels):
        return to_normalized(transform_points(np.reshape(pixels, (-1, 2)), self.matrix), self.crop_size)

    @property
    def side(self):
        """The crop's height in full-image pixels (its square box's side for a square crop)."""
        return self.scale * BOX_UNIT

    def frame(self, image_size, focal_length):
        """The crop's frame vector (``src/data/frame.py``) in an image of (height, width)."""
        return make_frame(self.center, self.side, image_size, focal_length)

    def camera_translation(self, cam, image_size, focal_length):
        """Full-image perspective translation (3,) of a weak-perspective ``cam`` (s, tx, ty).

        The crop's normalised frame spans the box side b = 200 x scale pixels; a body at depth
        z with focal f appears with scale s = 2 f / (b z). Its centre sits at the box centre,
        offset from the principal point (image centre).
        """
        s, tx, ty = (float(v) for v in cam)
        depth = 2.0 * focal_length / (self.side * s + 1e-9)
        height, width = image_size
        principal = np.array([(width - 1) / 2.0, (height - 1) / 2.0])
        # normalised crop coordinate 0 is the box centre; in pixels it is (crop centre -> image)
        offset = (self.center - principal) * depth / focal_length
        return np.array([tx + offset[0], ty + offset[1], depth])
