"""Shared pieces of the dataset converters: boxes, J24 arrays, native-file access, output.

Every converter turns one raw dataset into npz files of the uniform schema
(``src/data/schema.py``). Image names are written relative to the folder of the npz,
which is where the training loader looks for images by default, so a converted folder
works wherever ``--output_path`` put it.
"""
import io
import logging
import os
import re
from collections import Counter

import numpy as np

from model_utils.errors import UserInputError
from src.data.crop import BOX_UNIT
from model_utils.atomic_files import atomic_write

logger = logging.getLogger(__name__)

NUM_J24 = 24
MIN_BOX_POINTS = 2          # a box needs at least two visible keypoints


class Conversion:
    """Samples collected by a converter, plus the count of dropped ones by reason."""

    def __init__(self, name):
        self.name = name
        self.columns = {}
        self.dropped = Counter()

    def add(self, **fields):
        for key, value in fields.items():
            self.columns.setdefault(key, []).append(value)

    def drop(self, reason, count=1):
        self.dropped[reason] += count

    def __len__(self):
        return len(next(iter(self.columns.values()), ()))

    def arrays(self):
        """Column lists -> arrays (strings as unicode, numbers as float32)."""
        out = {}
        for key, values in self.columns.items():
            if isinstance(values[0], str):
                out[key] = np.asarray(values, dtype=str)
            else:
                out[key] = np.asarray(values, dtype=np.float32)
        return out


def box_from_keypoints(points, visible, margin):
    """Square person box around the visible keypoints.

    Args:
        points: (K, 2) pixel coordinates; visible: (K,) 0/1; margin: side = margin x extent.
    Returns:
        (center (2,), scale) with scale = side / 200 (SPIN's convention), or None when fewer
        than two keypoints are visible.
    """
    pts = np.asarray(points, np.float64)[np.asarray(visible) > 0]
    if len(pts) < MIN_BOX_POINTS:
        return None
    low, high = pts.min(0), pts.max(0)
    side = float((high - low).max()) * margin
    return (low + high) / 2.0, side / BOX_UNIT


def j24_part(points, visible, j24_slots):
    """(24, 3) keypoints + visibility with source joint ``i`` placed at J24 slot ``j24_slots[i]``.

    Every mapped joint keeps the file's coordinates (an occluded joint's labelled position is
    data, as in SPIN's files); visibility is 1 or 0; unmapped slots are 0.
    """
    part = np.zeros((NUM_J24, 3), np.float32)
    for source, slot in enumerate(j24_slots):
        if slot is None:
            continue
        part[slot, :2] = points[source]
        part[slot, 2] = 1.0 if visible[source] > 0 else 0.0
    return part


def find_first(dataset, root, candidates, kind="file"):
    """The first existing ``root/candidate``; a UserInputError naming the dataset and paths otherwise."""
    check = os.path.isfile if kind == "file" else os.path.isdir
    for candidate in candidates:
        path = os.path.join(root, candidate)
        if check(path):
            return path
    tried = ", ".join(os.path.join(root, c) for c in candidates)
    raise UserInputError(f"{dataset}: {kind} not found; expected {tried}")


def field(path, mapping, key, shape=None):
    """``mapping[key]`` as an array, checked against ``shape`` (None = any size on that axis)."""
    if key not in mapping:
        keys = sorted(k for k in mapping.keys() if not k.startswith("__"))
        raise UserInputError(f"{path}: field '{key}' missing; found {keys}")
    value = np.asarray(mapping[key])
    if shape is not None and (value.ndim != len(shape) or
                              any(s is not None and s != g for s, g in zip(shape, value.shape))):
        want = tuple("N" if s is None else s for s in shape)
        raise UserInputError(f"{path}: field '{key}' has shape {value.shape}, expected {want}")
    return value


def load_mat(path, dataset, **kwargs):
    """Read a MATLAB file with scipy, naming the dataset and file when it is not one."""
    import scipy.io
    if not os.path.isfile(path):
        raise UserInputError(f"{dataset}: file not found: {path}")
    try:
        return scipy.io.loadmat(path, **kwargs)
    except Exception as err:
        raise UserInputError(f"{dataset}: {path} is not a readable .mat file ({type(err).__name__}: {err})") from err


def relative_name(image_path, output_dir):
    """Image path as stored in ``imgname``: relative to the npz folder, '/' separated."""
    return os.path.relpath(os.path.abspath(image_path), os.path.abspath(output_dir)).replace(os.sep, "/")


SUBJECT_PATTERN = re.compile(r"(?<![A-Za-z0-9])(T?S)(\d{1,2})(?![0-9])")


def subject_of(name):
    """Subject token of an image name ('S9', 'S11', 'TS3'), or None."""
    match = SUBJECT_PATTERN.search(name)
    return match.group(1) + str(int(match.group(2))) if match else None


def write_npz(path, arrays):
    """Write a dataset npz atomically."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with atomic_write(path) as handle:
        handle.write(buffer.getvalue())


def finish(conversion, output_dir, filename):
    """Write ``conversion`` to ``output_dir/filename``, log its summary line, return a summary dict."""
    path = os.path.join(output_dir, filename)
    kept = len(conversion)
    dropped = dict(sorted(conversion.dropped.items()))
    if kept:
        write_npz(path, conversion.arrays())
    reasons = ", ".join(f"{n} {r}" for r, n in dropped.items()) or "none"
    logger.info("%-22s kept %7d  dropped %7d (%s)%s", conversion.name, kept, sum(dropped.values()), reasons,
                f" -> {path}" if kept else " -> nothing written")
    return {"name": conversion.name, "file": path if kept else None, "kept": kept, "dropped": dropped}
