"""The temporal refiners: one spec entry per network (``temporal_refiner`` in the config).

A spec says how to build the network from the config and what its interface is: the graph's input and
output names when exported, how it wants its 2D keypoints (``pixels``: any pixel frame, the network
normalises; ``frame``: ``x / w * 2 - 1``, ``y / w * 2 - h / w`` of a w x h frame, as EHGFormer's data), the
unit of its vertices and joints, and the clip length it was trained on (the window a track is refined in
when the config does not say). Nothing outside this file compares refiner names.
"""
from dataclasses import dataclass
from typing import Callable, Tuple



class RefinerConfigError(ValueError):
    """Config values no refiner can be built from (a user-facing, one-line error naming the key)."""

    user_facing = True


@dataclass(frozen=True)
class RefinerSpec:
    name: str
    build: Callable                      # (config, smpl) -> nn.Cell, weights not loaded
    input_names: Tuple[str, ...]
    output_names: Tuple[str, ...]        # as exported (ONNX value names are unique)
    keypoints: str                       # "pixels" | "frame"
    length_unit: float                   # metres per unit of the vertices / joints outputs
    clip: int                            # frames per training clip; 0 = temporal_clip
    recipe: str                          # training recipe, a ``src.training.temporal.RECIPES`` name


def _spacetime(config, smpl):
    from HMR.temporal.refiner import TemporalRefiner
    if config.temporal_dim % config.temporal_heads:
        raise RefinerConfigError(f"--temporal_dim {config.temporal_dim} must be a multiple of --temporal_heads "
                                 f"{config.temporal_heads}")
    if config.temporal_kernel % 2 != 1:
        raise RefinerConfigError(f"--temporal_kernel must be odd, got {config.temporal_kernel}")
    return TemporalRefiner(smpl, dim=config.temporal_dim, depth=config.temporal_depth, heads=config.temporal_heads,
                           hidden=config.temporal_hidden, kernel=config.temporal_kernel)


def _ehgformer(config, smpl):
    from HMR.temporal.ehgformer import EHGFormerRefiner
    from HMR.temporal.ehgformer_backbone import read_joint_labels
    if config.ehgformer_dim % config.ehgformer_heads:
        raise RefinerConfigError(f"--ehgformer_dim {config.ehgformer_dim} must be a multiple of --ehgformer_heads "
                                 f"{config.ehgformer_heads}")
    return EHGFormerRefiner(smpl, read_joint_labels(config.ehgformer_joint_label), config.ehgformer_relation_bias,
                            dim=config.ehgformer_dim, depth=config.ehgformer_depth, heads=config.ehgformer_heads,
                            hidden=config.ehgformer_hidden, pose_encoding=config.ehgformer_pose_encoding)


EHGFORMER_CLIP = 16                      # EHGFormer's clip_len (configs/mesh/*.yaml, its ONNX export)

REFINERS = {
    "spacetime": RefinerSpec("spacetime", _spacetime, ("pose2d", "theta", "shape"),
                             ("rot_mat", "refined_shape", "vertices", "keypoint_3d"), "pixels", 1.0, 0, "spacetime"),
    "ehgformer": RefinerSpec("ehgformer", _ehgformer, ("pose2d", "hybrik_theta", "hybrik_shape"),
                             ("rot_mat", "shape", "vertices", "keypoint_3d"), "frame", 1e-3, EHGFORMER_CLIP,
                             "ehgformer"),
}


def refiner_spec(name):
    if name not in REFINERS:
        raise RefinerConfigError(f"--temporal_refiner must be one of {sorted(REFINERS)}, got {name!r}")
    return REFINERS[name]


def refiner_clip(config):
    """Frames per clip of the configured refiner: its own training length, else ``temporal_clip``."""
    return refiner_spec(config.temporal_refiner).clip or config.temporal_clip


def build_refiner(config, smpl):
    """The network ``config.temporal_refiner`` names, built from its keys (weights not loaded)."""
    return refiner_spec(config.temporal_refiner).build(config, smpl)


def frame_keypoints(pose2d, width, height):
    """(..., 17, 3) pixel keypoints + confidence -> EHGFormer's frame normalisation (x / w * 2 - 1,
    y / w * 2 - h / w; confidence clipped to [0, 1]) for a ``width`` x ``height`` frame."""
    import numpy as np
    out = np.array(pose2d, np.float32, copy=True)
    out[..., 0] = out[..., 0] / width * 2.0 - 1.0
    out[..., 1] = out[..., 1] / width * 2.0 - height / width
    out[..., 2] = np.clip(out[..., 2], 0.0, 1.0)
    return out
