"""Find the body-model files a run uses (DESIGN.md, "Where files are found")."""
import logging
import os

from model_utils.entry import UserInputError

logger = logging.getLogger(__name__)

# Looked up under DATA_PATH, first match wins: HMR_DATA layout, then SPIN's layout.
SMPL_CANDIDATES = ("neutral_smpl_with_cocoplus_reg.pkl", os.path.join("smpl", "SMPL_NEUTRAL.pkl"),
                   "SMPL_NEUTRAL.pkl", "smpl_neutral.npz")
H36M_REGRESSOR_CANDIDATES = ("J_regressor_h36m.npy", os.path.join("smpl", "J_regressor_h36m.npy"))


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


def resolve_model_files(config):
    """Paths of the SMPL model and the optional H36M regressor for ``config``.

    Returns:
        dict ``{"smpl": path, "h36m_regressor": path or None}``; logs which files were chosen.
    """
    smpl = _find(config.smpl_model_path, config.data_path, SMPL_CANDIDATES, "SMPL model", True)
    h36m = _find(config.h36m_regressor_path, config.data_path, H36M_REGRESSOR_CANDIDATES,
                 "J_regressor_h36m", False)
    logger.info("body model: %s; H36M regressor: %s", smpl, h36m or "none")
    return {"smpl": smpl, "h36m_regressor": h36m}
