"""Mocap (MoSh) SMPL parameters for the discriminator -> ``mocap.npz`` (``pose``, ``shape``).

Sources, all optional but at least one required:
* every npz with ``pose`` (N, 72) and ``shape`` (N, 10) under ``mosh/`` or ``mocap/``
  (e.g. mmpose's ``mosh_annot.npz``, CMU MoSh fits). When such a file names its samples
  (``imgname`` or ``subject``), samples of the Human3.6M test subjects are removed.
* the MoSh fits of the Human3.6M *training* subjects from ``human3.6m/annot.h5``.
Test subjects (S9, S11) never enter the mocap file.
"""
import glob
import os

import numpy as np

from model_utils.errors import UserInputError
from src.data.converters import h36m
from src.data.converters.common import Conversion, field, finish, subject_of

MOCAP_FOLDERS = ("mosh", "mocap")


def _from_npz(path, conv):
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception as err:
        raise UserInputError(f"mocap: {path} is not a readable npz file ({type(err).__name__}: {err})") from err
    pose = field(path, arrays, "pose", (None, 72))
    shape = field(path, arrays, "shape", (len(pose), 10))
    names = arrays.get("subject", arrays.get("imgname"))
    for i in range(len(pose)):
        subject = subject_of(str(names[i])) if names is not None else None
        if subject in h36m.TEST_SUBJECTS:
            conv.drop(f"test subject {subject}")
            continue
        conv.add(source=os.path.basename(path), pose=pose[i], shape=shape[i])


def convert_mocap(data_path, output_dir, options):
    conv = Conversion("mocap")
    files = sorted(f for folder in MOCAP_FOLDERS for f in glob.glob(os.path.join(data_path, folder, "*.npz")))
    for path in files:
        _from_npz(path, conv)
    has_h36m = any(os.path.isdir(os.path.join(data_path, f)) for f in h36m.H36M_FOLDERS)
    if has_h36m:
        annot, _ = h36m.load(data_path)
        for i, subject in enumerate(annot["subject"]):
            if subject in h36m.TRAIN_SUBJECTS:
                conv.add(source="h36m", pose=annot["pose"][i], shape=annot["shape"][i])
            else:
                conv.drop(f"h36m subject {subject} not a training subject")
    if not files and not has_h36m:
        tried = ", ".join(os.path.join(data_path, f, "*.npz") for f in MOCAP_FOLDERS)
        raise UserInputError(f"mocap: no source found; expected {tried} or a Human3.6M folder")
    return [finish(conv, output_dir, "mocap.npz")]
