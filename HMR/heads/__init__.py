"""Regression heads, chosen by name (``pose_head`` in config.yaml): features -> SMPL parameters.

A head is built as ``build_head(name, feature_dim, mean_params, num_iterations, **options)``
and returns ``cam (B, 3), pose params, betas (B, 10)`` plus every iteration's pose and betas
(``HMR/heads/iterative.py``). A head with ``condition_dim > 0`` (CLIFF's) also takes the
crop's ``bbox_info``; one with ``takes_map`` (HMR 2.0's) takes the backbone's token map
(B, C, rows, columns) instead of pooled features. Adding one is a file here plus a line below.
"""
from HMR.registry import Registry

HEADS = Registry("head", {
    "axis_angle": "HMR.heads.iterative:AxisAngleRegressor.from_mean_params",
    "rot6d": "HMR.heads.iterative:Rot6dRegressor.from_mean_params",
    "cliff": "HMR.heads.iterative:Rot6dRegressor.cliff_from_mean_params",
    "hmr2": "HMR.heads.transformer_decoder:SMPLTransformerDecoderHead.from_mean_params",
})


def build_head(name, feature_dim, mean_params, num_iterations=3, **options):
    """The head ``name``; ``mean_params`` as ``src/data/model_files.load_mean_params`` returns them."""
    return HEADS.build(name, feature_dim, mean_params, num_iterations, **options)
