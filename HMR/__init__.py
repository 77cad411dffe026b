"""HMR network library: pure MindSpore Cells and functions (no file paths, no config).

``from HMR import SMPL`` works; the submodules are imported on first use so that
importing the package does not import MindSpore (the CPU ISA setting in
``model_utils.device_adapter`` must run before MindSpore is imported).
"""

_LAZY = {"SMPL": "HMR.smpl.layer", "load_smpl_model": "HMR.smpl.layer", "SMPLModelError": "HMR.smpl.layer"}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'HMR' has no attribute {name!r}")
