"""The uniform per-dataset npz schema (SPIN-compatible) and its validation.

Every dataset, converted by ``dataprocess.py`` or taken as SPIN/mmpose ship it, is one npz:

======== =========== ======================================================================
key      shape       meaning
======== =========== ======================================================================
imgname  (N,) str    image path relative to the dataset's image root
center   (N, 2)      person box centre, pixels (x, y)
scale    (N,)        person box side / 200 (pixels), SPIN's convention
part     (N, 24, 3)  2D keypoints in J24 order (pixels) + visibility (0/1)
S        (N, 24, 4)  optional: 3D joints in J24 order (metres, camera frame) + confidence
pose     (N, 72)     optional: SMPL axis-angle, root first (camera frame)
shape    (N, 10)     optional: SMPL betas
has_smpl (N,)        optional: 1 where pose/shape are ground truth
orig_shape (N, 2)    optional: full image (height, width), pixels (read from the images when absent)
focal_length (N,)    optional: the camera's focal length, pixels (CLIFF: sqrt(W^2 + H^2) when absent)
frame    (N,) int    optional: index of the frame in its ``sequence`` (video datasets)
======== =========== ======================================================================

A mocap file for the discriminator holds ``pose`` (N, 72) and ``shape`` (N, 10).
"""
import os

import numpy as np

from model_utils.errors import UserInputError

NUM_J24 = 24
REQUIRED = {"imgname": (None,), "center": (None, 2), "scale": (None,), "part": (None, NUM_J24, 3)}
OPTIONAL = {"S": (None, NUM_J24, 4), "pose": (None, 72), "shape": (None, 10), "has_smpl": (None,),
            "orig_shape": (None, 2), "focal_length": (None,), "frame": (None,)}
MOCAP = {"pose": (None, 72), "shape": (None, 10)}


def _check_shape(path, key, array, expected, length):
    ok = array.ndim == len(expected) and all(e is None or e == g for e, g in zip(expected, array.shape))
    if not ok or (length is not None and array.shape[0] != length):
        want = tuple("N" if e is None else e for e in expected)
        raise UserInputError(f"{path}: key '{key}' has shape {array.shape}, expected {want} with N={length}")


def _open_npz(path):
    if not os.path.isfile(path):
        raise UserInputError(f"dataset file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except Exception as err:
        raise UserInputError(f"{path}: not a readable npz file ({type(err).__name__}: {err})") from err


EXTRAS = ("subject", "action", "camera", "sequence", "gender")   # optional per-sample labels, kept as str


def load_dataset_npz(path, need_keypoints=True):
    """Read and validate a dataset npz.

    Args:
        need_keypoints: False for test files, which may lack ``part`` (SPIN's 3DPW file).
    Returns:
        dict of arrays with every schema key present: missing optional 3D/SMPL fields are
        filled with zeros (confidence 0, ``has_smpl`` 0), so 2D-only datasets mix with 3D ones.
        Labels in ``EXTRAS``, ``orig_shape`` and ``focal_length`` are kept when present.
    Raises:
        UserInputError naming the file and key.
    """
    data = _open_npz(path)
    n = len(data["imgname"]) if "imgname" in data else 0
    if not need_keypoints and "part" not in data:
        data["part"] = np.zeros((n, NUM_J24, 3), np.float32)
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise UserInputError(f"{path}: not a dataset npz, missing key(s) {missing}; found {sorted(data)}")
    for key, expected in {**REQUIRED, **OPTIONAL}.items():
        if key in data:
            _check_shape(path, key, data[key], expected, n)
    out = {
        "imgname": data["imgname"].astype(str),
        "center": data["center"].astype(np.float32),
        "scale": data["scale"].astype(np.float32),
        "part": data["part"].astype(np.float32),
        "S": data["S"].astype(np.float32) if "S" in data else np.zeros((n, NUM_J24, 4), np.float32),
        "pose": data["pose"].astype(np.float32) if "pose" in data else np.zeros((n, 72), np.float32),
        "shape": data["shape"].astype(np.float32) if "shape" in data else np.zeros((n, 10), np.float32),
    }
    for key in EXTRAS:
        if key in data and len(data[key]) == n:
            out[key] = data[key].astype(str)
    if "orig_shape" in data:
        out["orig_shape"] = data["orig_shape"].astype(np.int32)
    if "focal_length" in data:
        out["focal_length"] = data["focal_length"].astype(np.float32)
        if not np.all(out["focal_length"] > 0):
            raise UserInputError(f"{path}: key 'focal_length' must be > 0 pixels")
    if "frame" in data:
        out["frame"] = data["frame"].astype(np.int32)
    if "has_smpl" in data:
        out["has_smpl"] = data["has_smpl"].astype(np.float32)
    else:
        out["has_smpl"] = np.full(n, 1.0 if ("pose" in data and "shape" in data) else 0.0, np.float32)
    if not np.all(out["scale"] > 0):
        bad = int(np.argmin(out["scale"] > 0))
        raise UserInputError(f"{path}: key 'scale' must be > 0 (sample {bad} has {out['scale'][bad]})")
    return out


def load_mocap_npz(path):
    """Read a mocap file: dict with ``pose`` (N, 72) and ``shape`` (N, 10) float32."""
    data = _open_npz(path)
    missing = [k for k in MOCAP if k not in data]
    if missing:
        raise UserInputError(f"{path}: not a mocap npz, missing key(s) {missing}; found {sorted(data)}")
    n = len(data["pose"])
    for key, expected in MOCAP.items():
        _check_shape(path, key, data[key], expected, n)
    if n == 0:
        raise UserInputError(f"{path}: mocap file holds no samples")
    return {"pose": data["pose"].astype(np.float32), "shape": data["shape"].astype(np.float32)}
