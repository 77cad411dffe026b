"""Reading images and normalising crops: one place for the training pipeline and the demo."""
import logging

import cv2
import numpy as np

from HMR.constants import HYBRIK_MEAN, IMAGENET_MEAN, IMAGENET_STD

logger = logging.getLogger(__name__)


def _to_unit_range(x):
    return x * 2.0 - 1.0


def _imagenet(x):
    return (x - np.asarray(IMAGENET_MEAN, np.float32)) / np.asarray(IMAGENET_STD, np.float32)


def _hybrik(x):
    """HybrIK's ``im_to_torch`` + test transform: ImageNet's mean and std in BGR order subtracted from and
    divided into an RGB image (R - 0.406) / 0.225, (G - 0.457) / 0.224, (B - 0.480) / 0.229 (its G mean is
    0.457, not ImageNet's 0.456), kept exactly as its released weights saw their inputs."""
    return (x - np.asarray(HYBRIK_MEAN, np.float32)) / np.asarray(IMAGENET_STD[::-1], np.float32)


# ``image_normalization``: RGB (H, W, 3) in [0, 1] -> normalised; HMR's [-1, 1], ImageNet's mean/std, HybrIK's or
# 3DCrowdNet's (none)
def _unit(x):
    """3DCrowdNet / HAP: the image in [0, 1] as it is (``ToTensor()(img) / 255``, no mean or std)."""
    return x


NORMALIZATIONS = {"hmr": _to_unit_range, "imagenet": _imagenet, "hybrik": _hybrik, "unit": _unit}


def normalize_image(image, normalization):
    """RGB (H, W, 3) in 0..255 -> float32 (3, H, W), by ``NORMALIZATIONS[normalization]``."""
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"image normalization must be one of {', '.join(NORMALIZATIONS)}, got {normalization!r}")
    x = NORMALIZATIONS[normalization](image.astype(np.float32) / 255.0)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def read_rgb(path):
    """Read an image as RGB uint8, or None (with a warning) when it is missing or corrupt."""
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        logger.warning("skipping unreadable image %s", path)
        return None
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
