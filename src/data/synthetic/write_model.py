"""Write the synthetic body model in the real file formats (SMPL pickle, npz, regressor npy)."""
import logging
import os
import pickle

import numpy as np
import scipy.sparse

from src.data.synthetic.body_model import build_body_model
from model_utils.atomic_files import atomic_write

logger = logging.getLogger(__name__)

HMR_MODEL_NAME = "neutral_smpl_with_cocoplus_reg.pkl"
H36M_REGRESSOR_NAME = "J_regressor_h36m.npy"
EXTRA_REGRESSOR_NAME = "J_regressor_extra.npy"


def smpl_pickle_dict(model):
    """The model as the official pickle holds it: float64 arrays, sparse csc regressors."""
    out = {k: v for k, v in model.items() if k not in ("J_regressor_h36m", "J_regressor_extra")}
    out["J_regressor"] = scipy.sparse.csc_matrix(model["J_regressor"])
    out["cocoplus_regressor"] = scipy.sparse.csc_matrix(model["cocoplus_regressor"])
    return out


def write_body_model(output_dir, seed=0, overwrite=False):
    """Write ``neutral_smpl_with_cocoplus_reg.pkl``, ``J_regressor_h36m.npy`` and ``J_regressor_extra.npy`` into
    ``output_dir``.

    Returns the path of the pickle. Existing files are kept unless ``overwrite`` (a missing one is added).
    """
    os.makedirs(output_dir, exist_ok=True)
    paths = {"pickle": os.path.join(output_dir, HMR_MODEL_NAME),
             "J_regressor_h36m": os.path.join(output_dir, H36M_REGRESSOR_NAME),
             "J_regressor_extra": os.path.join(output_dir, EXTRA_REGRESSOR_NAME)}
    missing = [name for name, path in paths.items() if overwrite or not os.path.isfile(path)]
    if not missing:
        return paths["pickle"]
    model = build_body_model(seed)
    for name in missing:
        with atomic_write(paths[name]) as handle:
            if name == "pickle":
                pickle.dump(smpl_pickle_dict(model), handle, protocol=2)
            else:
                np.save(handle, model[name])
        logger.info("wrote SYNTHETIC body model file %s", paths[name])
    return paths["pickle"]


def ensure_body_model(config):
    """Write the synthetic body model into ``data_path`` unless the config names a model file
    or ``data_path`` already holds one (real files are never replaced)."""
    from src.data.model_files import SMPL_CANDIDATES
    if config.smpl_model_path or any(os.path.isfile(os.path.join(config.data_path, c)) for c in SMPL_CANDIDATES):
        return None
    return write_body_model(config.data_path, seed=config.synthetic_seed)


def write_body_model_npz(path, model):
    """Write ``model`` (dense arrays) as an npz of the SMPL keys."""
    keys = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f",
            "cocoplus_regressor", "synthetic")
    with atomic_write(path) as handle:
        np.savez(handle, **{k: np.asarray(model[k]) for k in keys if k in model})
    return path
