"""SPIN / mmpose preprocessed npz files: already in the uniform schema, accepted as they are.

``dataprocess.py`` only validates them (every key and shape, as the training loader
will) and reports their size, so a wrong file is found before training starts. Their
``imgname`` entries are relative to each dataset's own image folder; name those folders
with the ``train_image_roots`` / ``eval_image_root`` config keys.
"""
import glob
import logging
import os

from src.data.schema import REQUIRED, load_dataset_npz, load_mocap_npz

logger = logging.getLogger(__name__)

NPZ_FOLDERS = ("", "dataset_extras")
MOCAP_NAMES = ("mosh", "cmu", "mocap")


def find_npz_files(data_path):
    return sorted(f for folder in NPZ_FOLDERS for f in glob.glob(os.path.join(data_path, folder, "*.npz")))


def check_spin(data_path, output_dir, options):
    """Validate every npz in ``data_path`` (and ``dataset_extras/``); nothing is written."""
    import numpy as np
    summaries = []
    for path in find_npz_files(data_path):
        with np.load(path, allow_pickle=False) as data:
            keys = set(data.files)
        if set(REQUIRED) <= keys:
            count = len(load_dataset_npz(path)["imgname"])
        elif {"pose", "shape"} <= keys and any(m in os.path.basename(path).lower() for m in MOCAP_NAMES):
            count = len(load_mocap_npz(path)["pose"])
        else:
            logger.info("%s: not a dataset npz (keys %s), ignored", path, sorted(keys))
            continue
        logger.info("%-22s kept %7d  accepted as is -> %s", os.path.basename(path), count, path)
        summaries.append({"name": os.path.basename(path), "file": path, "kept": count, "dropped": {}})
    return summaries
