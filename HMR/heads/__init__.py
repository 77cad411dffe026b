"""Regression heads, chosen by the architecture spec (``HMR/architectures.py``) and ``pose_head``:
features -> SMPL parameters.

A head is built as ``build_head(name, feature_dim, mean_params, num_iterations, **options)`` with
``mean_params`` = ``{"rotmats": (24, 3, 3), "shape": (10,), "cam": (3,)}`` (each head turns them into
its own parameterisation). It owns that parameterisation:

- ``head(features, noise=None, fast=None, *extra)`` -> cam (B, 3), pose parameters in its own
  representation, betas (B, 10), and every iteration's pose parameters and betas (iteration-major);
  ``extra``: the architecture's extra graph inputs (CLIFF's head reads ``bbox_info``);
- ``head.pose_decoder()`` -> a new Cell (``HMR/heads/pose_decoders.py``) with
  ``to_rotations(pose_params)`` -> (axis-angle (B, 72), rotation matrices (B, 24, 3, 3)) and
  ``rotation_matrices(pose_params)`` -> (N, 24, 3, 3); the model keeps it beside the head, so the
  conversion stays float32 when the head runs in float16.

A head whose entry has the fact ``token_map`` reads the backbone's token map (B, C, rows, columns)
instead of pooled features. Adding one is a file here plus an entry below, or ``HEADS.register(...)``.
"""
from HMR.registry import Component, Registry

HEADS = Registry("head", {
    "axis_angle": "HMR.heads.iterative:AxisAngleRegressor.from_mean_params",
    "rot6d": "HMR.heads.iterative:Rot6dRegressor.from_mean_params",
    "cliff": "HMR.heads.iterative:Rot6dRegressor.cliff_from_mean_params",
    "hmr2": Component("HMR.heads.transformer_decoder:SMPLTransformerDecoderHead.from_mean_params",
                      {"depth": "decoder_depth", "heads": "decoder_heads", "dim_head": "decoder_head_dim",
                       "dim": "decoder_width", "mlp_dim": "decoder_mlp_dim"}, {"token_map": True}),
    # HybrIK's shape, twist, camera and sigma heads (HMR/hybrik.py builds it with its backbone's sizes)
    "hybrik": Component("HMR.heads.hybrik:HybrIKHead.from_mean_params", {}, {"volumes": True}),
    # 3DCrowdNet's PositionNet and RotationNet (HMR/crowdnet.py builds them) between a splitting backbone's halves
    "crowdnet": Component("HMR.heads.crowdnet:RotationNet", {}, {"splits": True}),
})


def build_head(name, feature_dim, mean_params, num_iterations=3, **options):
    """The head ``name``; ``mean_params`` as ``src/data/model_files.load_mean_params`` returns them."""
    return HEADS.build(name, feature_dim, mean_params, num_iterations, **options)
