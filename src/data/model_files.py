"""Find the body-model files a run uses (DESIGN.md, "Where files are found")."""
import logging
import os

from model_utils.errors import UserInputError

logger = logging.getLogger(__name__)

# Looked up under DATA_PATH, first match wins: HMR_DATA layout, then SPIN's layout.
SMPL_CANDIDATES = ("neutral_smpl_with_cocoplus_reg.pkl", os.path.join("smpl", "SMPL_NEUTRAL.pkl"),
                   "SMPL_NEUTRAL.pkl", "smpl_neutral.npz")
H36M_REGRESSOR_CANDIDATES = ("J_regressor_h36m.npy", os.path.join("smpl", "J_regressor_h36m.npy"))
VPOSER_FILE = "vposer_v1.ckpt"
EXTRA_REGRESSOR_CANDIDATES = ("J_regressor_extra.npy", os.path.join("smpl", "J_regressor_extra.npy"))


def _find(explicit, data_path, candidates, what, required):
    if explicit:
        if not os.path.isfile(explicit):
            raise UserInputError(f"{what} file not found: {explicit}")
        return explicit
    for name in candidates:
        path = os.path.join(data_path, name)
        if os.path.isfile(path):
            return path
    if required:
        raise UserInputError(f"no {what} under {data_path}: looked for {', '.join(candidates)}")
    return None


GENDERED_CANDIDATES = {
    "male": (os.path.join("smpl", "SMPL_MALE.pkl"), "SMPL_MALE.pkl", "basicModel_m_lbs_10_207_0_v1.0.0.pkl"),
    "female": (os.path.join("smpl", "SMPL_FEMALE.pkl"), "SMPL_FEMALE.pkl", "basicModel_f_lbs_10_207_0_v1.0.0.pkl"),
}


def resolve_gendered_models(config):
    """{gender: path} of the male/female SMPL files found (config keys, then data_path); may be empty."""
    found = {}
    for gender, explicit in (("male", config.smpl_male_path), ("female", config.smpl_female_path)):
        path = _find(explicit, config.data_path, GENDERED_CANDIDATES[gender], f"{gender} SMPL model", False)
        if path:
            found[gender] = path
    logger.info("gendered SMPL models: %s", found or "none (ground-truth meshes use the neutral model)")
    return found


def resolve_model_files(config):
    """Paths of the SMPL model and the optional H36M and extra (SPIN's 9 joints) regressors for ``config``.

    Returns:
        dict ``{"smpl": path, "h36m_regressor": path or None, "extra_regressor": path or None}``; logs which files
        were chosen.
    """
    smpl = _find(config.smpl_model_path, config.data_path, SMPL_CANDIDATES, "SMPL model", True)
    h36m = _find(config.h36m_regressor_path, config.data_path, H36M_REGRESSOR_CANDIDATES,
                 "J_regressor_h36m", False)
    extra = _find(config.extra_regressor_path, config.data_path, EXTRA_REGRESSOR_CANDIDATES,
                  "J_regressor_extra", False)
    logger.info("body model: %s; H36M regressor: %s; extra regressor: %s", smpl, h36m or "none", extra or "none")
    return {"smpl": smpl, "h36m_regressor": h36m, "extra_regressor": extra}


MEAN_PARAM_CANDIDATES = ("neutral_smpl_mean_params.h5", "smpl_mean_params.npz", os.path.join("smpl", "smpl_mean_params.npz"))


def _read_mean_params(path):
    """Read HMR's h5 (``pose`` (72,) axis-angle, ``shape``) or SPIN's npz (``pose`` (144,) 6D, ``shape``, ``cam``).

    Returns (rotmats (24, 3, 3), shape (10,), cam (3,) or None).
    """
    import numpy as np
    from scipy.spatial.transform import Rotation
    try:
        if path.endswith(".h5"):
            import h5py
            with h5py.File(path, "r") as h5:
                pose, shape, cam = np.asarray(h5["pose"]).reshape(-1), np.asarray(h5["shape"]).reshape(-1), None
        else:
            with np.load(path, allow_pickle=False) as data:
                pose, shape = data["pose"].reshape(-1), data["shape"].reshape(-1)
                cam = data["cam"].reshape(-1) if "cam" in data.files else None
    except (OSError, KeyError, ValueError) as err:
        raise UserInputError(f"{path}: not a readable mean-parameter file ({type(err).__name__}: {err})") from err
    if pose.shape == (72,):
        rotmats = Rotation.from_rotvec(pose.reshape(24, 3)).as_matrix()
        rotmats[0] = Rotation.from_rotvec([np.pi, 0.0, 0.0]).as_matrix()   # HMR: root (pi, 0, 0)
    elif pose.shape == (144,):
        six = pose.reshape(24, 3, 2)
        b1 = six[:, :, 0] / np.linalg.norm(six[:, :, 0], axis=1, keepdims=True)
        a2 = six[:, :, 1] - (b1 * six[:, :, 1]).sum(1, keepdims=True) * b1
        b2 = a2 / np.linalg.norm(a2, axis=1, keepdims=True)
        rotmats = np.stack([b1, b2, np.cross(b1, b2)], -1)
    else:
        raise UserInputError(f"{path}: key 'pose' has shape {pose.shape}, expected (72,) axis-angle or (144,) 6D")
    if shape.shape[0] < 10:
        raise UserInputError(f"{path}: key 'shape' has {shape.shape[0]} values, expected 10")
    return rotmats, shape[:10], cam


def load_mean_params(config):
    """Initial regressor parameters, in no head's parameterisation (each head converts them,
    ``HMR/heads``).

    From ``mean_params_path``, else ``neutral_smpl_mean_params.h5`` / ``smpl_mean_params.npz``
    under ``data_path``, else the built-in default (rest pose, root (pi, 0, 0)).
    Returns ``{"rotmats": (24, 3, 3), "shape": (10,), "cam": (3,)}``.
    """
    import numpy as np
    from scipy.spatial.transform import Rotation

    from HMR.heads.iterative import DEFAULT_CAM, default_mean_params
    path = _find(config.mean_params_path, config.data_path, MEAN_PARAM_CANDIDATES, "mean parameters", False)
    if path:
        rotmats, shape, cam = _read_mean_params(path)
        cam = np.asarray(DEFAULT_CAM if cam is None else cam, np.float64)
    else:
        pose, shape, cam = default_mean_params()
        rotmats = Rotation.from_rotvec(pose.reshape(24, 3)).as_matrix()
    logger.info("mean parameters: %s", path or "built-in default")
    return {"rotmats": rotmats, "shape": shape, "cam": cam}


def vposer_file(config):
    """Where the VPoser checkpoint is: ``vposer_path``, else ``DATA_PATH/vposer_v1.ckpt`` (``src/training/vposer.py``
    writes one there)."""
    return config.vposer_path or os.path.join(config.data_path, VPOSER_FILE)
