"""The earlier port's 3D annotation files: ``annot.h5`` (or its source ``annots.npz``).

One file per dataset folder with, per sample:

========= ================== ==========================================================
field     shape              meaning
========= ================== ==========================================================
imagename (N,) bytes or str  image path under the dataset's ``images/`` folder
gt2d      (N, 14, 3)         LSP-14 keypoints, pixels + visibility (or flat (N, 42))
gt3d      (N, 14, 3)         LSP-14 3D joints, camera frame, metres or millimetres
pose      (N, 72)            SMPL axis-angle (MoSh fit); optional for MPI-INF-3DHP
shape     (N, 10)            SMPL betas; optional for MPI-INF-3DHP
========= ================== ==========================================================

Units of ``gt3d`` are detected (a body several metres tall is in millimetres) and logged.
The subject ('S9', 'TS3') is read from the image name, which is how the split by subject
is made; a name without one is dropped and counted.
"""
import logging
import os
import re

import numpy as np

from model_utils.errors import UserInputError
from src.data.converters.common import NUM_J24, box_from_keypoints, find_first, j24_part, relative_name, \
    subject_of

logger = logging.getLogger(__name__)

ANNOT_FILES = ("annot.h5", "annots.npz")
NUM_LSP = 14
MILLIMETRE_EXTENT = 10.0    # a median body extent above this many units means millimetres


def _read(path):
    if path.endswith(".h5"):
        import h5py
        try:
            with h5py.File(path, "r") as handle:
                return {k: np.asarray(handle[k]) for k in handle.keys()}
        except OSError as err:
            raise UserInputError(f"{path}: not a readable HDF5 file ({err})") from err
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except Exception as err:
        raise UserInputError(f"{path}: not a readable npz file ({type(err).__name__}: {err})") from err


def _joints(path, data, key, width, n):
    if key not in data:
        raise UserInputError(f"{path}: field '{key}' missing; found {sorted(data)}")
    value = np.asarray(data[key], np.float64)
    if value.shape == (n, NUM_LSP * width):
        value = value.reshape(n, NUM_LSP, width)
    if value.shape != (n, NUM_LSP, width):
        raise UserInputError(f"{path}: field '{key}' has shape {value.shape}, expected ({n}, {NUM_LSP}, {width})")
    return value


def read_annotations(dataset, root, require_smpl):
    """Validated arrays of a dataset folder's annotation file.

    Returns:
        dict: path, imagename (N,) str, subject (N,) str or None, gt2d (N,14,3), gt3d (N,14,3) in metres, and pose
        (N,72) / shape (N,10) or None when absent (allowed unless ``require_smpl``).
    """
    path = find_first(dataset, root, ANNOT_FILES)
    data = _read(path)
    if "imagename" not in data:
        raise UserInputError(f"{path}: field 'imagename' missing; found {sorted(data)}")
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in np.asarray(data["imagename"]).ravel()]
    n = len(names)
    out = {"path": path, "imagename": names, "subject": [subject_of(name) for name in names],
           "gt2d": _joints(path, data, "gt2d", 3, n),
           "gt3d": _joints(path, data, "gt3d", 3, n)}
    for key, width in (("pose", 72), ("shape", 10)):
        if key not in data:
            if require_smpl:
                raise UserInputError(f"{path}: field '{key}' missing; found {sorted(data)}")
            out[key] = None
            continue
        value = np.asarray(data[key], np.float64)
        if value.shape != (n, width):
            raise UserInputError(f"{path}: field '{key}' has shape {value.shape}, expected ({n}, {width})")
        out[key] = value
    extent = np.median(out["gt3d"].max(1) - out["gt3d"].min(1)) if n else 0.0
    if extent > MILLIMETRE_EXTENT:
        logger.info("%s: field 'gt3d' is in millimetres (median extent %.0f); converted to metres", path, extent)
        out["gt3d"] = out["gt3d"] / 1000.0
    return out


def image_folder(dataset, root):
    return find_first(dataset, root, ("images", "image"), kind="folder")


def sample_fields(annot, index, image_dir, output_dir, margin):
    """Schema fields of sample ``index``, or None when its 2D keypoints give no box."""
    gt2d = annot["gt2d"][index]
    box = box_from_keypoints(gt2d[:, :2], gt2d[:, 2], margin)
    if box is None:
        return None
    joints = np.zeros((NUM_J24, 4), np.float32)
    joints[:NUM_LSP, :3] = annot["gt3d"][index]
    joints[:NUM_LSP, 3] = 1.0
    name = annot["imagename"][index]
    fields = {"imgname": relative_name(os.path.join(image_dir, name.lstrip("/\\")), output_dir),
              "center": box[0], "scale": box[1], "part": j24_part(gt2d[:, :2], gt2d[:, 2], range(NUM_LSP)),
              "S": joints, "subject": annot["subject"][index] or ""}
    if annot["pose"] is not None:
        fields.update(pose=annot["pose"][index], shape=annot["shape"][index], has_smpl=1.0)
    return fields


def find_token(name, choices):
    """The first of ``choices`` found in ``name`` (case-insensitive, longest first), or ''."""
    for choice in sorted(choices, key=len, reverse=True):
        if re.search(re.escape(choice), name, re.IGNORECASE):
            return choice
    return ""
