"""Providers of the architectures' extra graph inputs (``HMR.architectures.ExtraInput``), by name.

A provider turns a crop's frame (``src/data/frame.py``: box centre and side, image size, focal length;
(6,) float32) into one sample of the input, e.g. CLIFF's ``bbox_info`` (3,). Training and evaluation
sources, the demos and the calibration data all call :func:`extra_input_values`, so a new extra input
is one provider here (or ``PROVIDERS.register(name, function)``) plus its spec entry.

A provider whose entry has the fact ``sample`` also reads the sample itself (``sample``: ``{"keypoints": (24, 3)
J24 keypoints in normalised crop coordinates + visibility, "seed": int or None}``; 3DCrowdNet's 2D pose).
"""
import numpy as np

from HMR.registry import Component, Registry

PROVIDERS = Registry("extra input", {
    "bbox_info": "src.data.frame:bbox_info",              # CLIFF
    "bbox": "src.data.frame:square_box",                  # HybrIK
    "image_center": "src.data.frame:image_center",        # HybrIK
    # 3DCrowdNet / HAP: the 2D pose as 30 joints in the 64-grid and their mask (src/data/pose_inputs.py)
    "joints": Component("src.data.pose_inputs:input_joints", {}, {"sample": True}),
    "joints_mask": Component("src.data.pose_inputs:input_joints_mask", {}, {"sample": True}),
})


def extra_input_values(names, frame, sample=None):
    """[(...) float32 array per name in ``names``] of one crop's ``frame`` (6,) (or frames (N, 6)) and, for the
    providers that read it, the ``sample``."""
    return [np.asarray(PROVIDERS.build(name, frame, sample) if PROVIDERS.get(name).fact("sample")
                       else PROVIDERS.build(name, frame), np.float32) for name in names]
