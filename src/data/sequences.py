"""Sequence datasets: a file's rows grouped into sequences, and the temporal refiner's 2D input.

A sequence dataset (the embedded default's ``synthetic_seq_*.npz``, or any file in the schema
with ``sequence`` and ``frame``) holds each sequence's frames in its rows; :func:`sequences`
returns their row indices in frame order.
"""
import numpy as np

from model_utils.errors import UserInputError


def sequences(data, path="test file"):
    """[row indices (T,) in frame order] per sequence of ``data`` (schema arrays)."""
    if "sequence" not in data or "frame" not in data:
        raise UserInputError(f"{path}: not a sequence dataset: needs the keys 'sequence' and 'frame'")
    out = []
    for name in dict.fromkeys(data["sequence"]):
        rows = np.flatnonzero(data["sequence"] == name)
        out.append(rows[np.argsort(data["frame"][rows], kind="stable")])
    return out


def keypoints_2d(data, noise, seed):
    """The refiner's 2D input for every row: the labels' J24 keypoints in H36M order (pixels,
    visibility as confidence) with Gaussian noise of ``noise`` x the person box's side standing
    for a detector's error (deterministic from ``seed``). (N, 17, 3) float32."""
    from HMR.constants import H36M17_FROM_J24
    part = data["part"][:, list(H36M17_FROM_J24)].astype(np.float64)
    side = (data["scale"] * 200.0)[:, None, None]
    part[:, :, :2] += np.random.default_rng(seed).normal(0.0, 1.0, part[:, :, :2].shape) * noise * side
    return part.astype(np.float32)


def frame_sizes(data, path, image_root=None):
    """(N, 2) (height, width) of every row's image: the file's ``orig_shape``, else read from the image
    headers once (``src/data/frame.py``, cached beside the file)."""
    import os

    from src.data.frame import read_image_sizes
    if "orig_shape" in data:
        return np.asarray(data["orig_shape"])
    sizes = read_image_sizes(path, data["imgname"], image_root or os.path.dirname(os.path.abspath(path)))
    if (sizes < 0).any():
        raise UserInputError(f"{path}: {int((sizes[:, 0] < 0).sum())} image(s) unreadable; their size is needed "
                             "to normalise the keypoints (or give the file an 'orig_shape' key)")
    return sizes
