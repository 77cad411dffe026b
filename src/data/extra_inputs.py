"""Providers of the architectures' extra graph inputs (``HMR.architectures.ExtraInput``), by name.

A provider turns a crop's frame (``src/data/frame.py``: box centre and side, image size, focal length;
(6,) float32) into one sample of the input, e.g. CLIFF's ``bbox_info`` (3,). Training and evaluation
sources, the demos and the calibration data all call :func:`extra_input_values`, so a new extra input
is one provider here (or ``PROVIDERS.register(name, function)``) plus its spec entry.
"""
import numpy as np

from HMR.registry import Registry

PROVIDERS = Registry("extra input", {
    "bbox_info": "src.data.frame:bbox_info",              # CLIFF
    "bbox": "src.data.frame:square_box",                  # HybrIK
    "image_center": "src.data.frame:image_center",        # HybrIK
})


def extra_input_values(names, frame):
    """[(...) float32 array per name in ``names``] of one crop's ``frame`` (6,) (or frames (N, 6))."""
    return [np.asarray(PROVIDERS.build(name, frame), np.float32) for name in names]
