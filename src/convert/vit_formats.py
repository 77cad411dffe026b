"""ViT checkpoints -> this project: HMR 2.0's Lightning ``.ckpt``, ViTPose's and HAP's backbones.

* ``hmr2`` -- 4D-Humans' ``epoch=35-step=1000000.ckpt``: ``state_dict`` with ``backbone.*`` (the ViT,
  ``encoder.*`` here, same names), ``smpl_head.*`` (the decoder head, ``regressor.*``, same names),
  ``discriminator.*`` (HMR's discriminator with 1x1 convolutions, ``disc.*`` here: see
  :func:`discriminator_arrays`) and the buffers that hold no weight, skipped and named in the result
  (``HMR2_NON_WEIGHTS``: ``smpl.*``, the body model's, as this project reads the SMPL file; and
  ``initialized``, the flag ``HMR2.__init__`` registers for ActNorm initialisation). Anything else in
  ``state_dict`` stops the conversion; every expected tensor must be there with its shape. The rest of
  the file (``hyper_parameters`` holds a yacs ``CfgNode``, optimiser and callback states) is read
  without importing the classes it names.
* ``vitpose`` -- mmpose's ViTPose ``.pth``: ``state_dict`` with ``backbone.*`` (the same ViT) and
  ``keypoint_head.*`` (its heatmap decoder, not used here). Encoder only.
* ``hap`` -- HAP's (MAE-style) ViT-B pre-training checkpoint: ``model`` (or the top level) with
  ``cls_token``, ``pos_embed`` (1, 1 + rows x cols, C), ``patch_embed.proj.*``, ``blocks.*``,
  ``norm.*`` (-> ``last_norm``) and the MAE decoder (``decoder_*``, ``mask_token``; dropped). As
  ViTPose initialises from MAE weights, the position grid is resized bicubically to 16 x 12
  (``F.interpolate``, ``align_corners=False``), the class token is dropped, and the patch
  convolution runs with ViTPose's padding 2. Encoder only.
* ``hap2d`` -- HAP's 2D pose estimation checkpoint (mmpose ViTPose: ``state_dict`` with ``backbone.*`` and
  ``keypoint_head.*``), as HAP's 3D model (3DCrowdNet with a ViT-B) starts from it (``common/nets/vit.py``
  ``init_weights``): the ``backbone.`` keys without ViTPose+'s ``mlp.experts``, the 16 x 12 position grid of its
  256 x 192 crops resized bicubically to the 16 x 16 of the 3D model's 256 x 256 ones (``interpolate_pos_embed``:
  ``F.interpolate``, ``align_corners=False``, the class slot kept). Encoder only, with a ``crowdnet`` config.

The ViT size is read from the weights (width from ``pos_embed``, depth from the blocks, heads from
the standard size of that width); the decoder's from its layers (heads = inner width / 64, HMR 2.0's
head width).
"""
import math
import re

import numpy as np

from model_utils.errors import UserInputError

VIT_FORMATS = ("hmr2", "vitpose", "hap", "hap2d")
WHOLE_MODEL_FORMATS = VIT_FORMATS[:1]     # 4D-Humans' Lightning checkpoint: ViT, decoder head and discriminator
WIDTH_TO_SIZE = {768: "vit_b16", 1024: "vit_l16", 1280: "vit_h16"}
HMR2_GRID = (16, 12)                   # 256 x 192 input, patch 16, padding 2
HAP3D_GRID = (16, 16)                  # HAP's 3D model: 256 x 256 input, patch 16, padding 2
HAP3D_CONFIG = {"architecture": "crowdnet", "pose_head": "vposer", "img_size": 256, "img_width": 0,
                "image_normalization": "unit"}
DECODER_HEAD_DIM = 64
BLOCK_KEY = re.compile(r"^blocks\.(\d+)\.")
DECODER_LAYER_KEY = re.compile(r"^transformer\.transformer\.layers\.(\d+)\.")
# non-weight buffers of 4D-Humans' HMR2 module: key prefix (ends in '.') or whole key -> what it is
HMR2_NON_WEIGHTS = {"smpl.": "the body model's buffers", "initialized": "HMR2's ActNorm initialisation flag"}
VITPOSE_IGNORED = ("keypoint_head.",)
VITPOSE_EXPERTS = ".mlp.experts."      # ViTPose+'s per-dataset expert layers, which HAP's 3D model drops
HAP_IGNORED = ("cls_token", "mask_token", "decoder_")
# 4D-Humans discriminator -> HMR/discriminator.py (same layers; the 1x1 convolutions are dense here)
DISCRIMINATOR_NAMES = {"D_conv1": "joint_fc1", "D_conv2": "joint_fc2", "betas_fc1": "shape_fc1",
                       "betas_fc2": "shape_fc2", "betas_out": "shape_out", "D_alljoints_fc1": "pose_fc1",
                       "D_alljoints_fc2": "pose_fc2", "D_alljoints_out": "pose_out"}
NUM_BODY_JOINTS = 23
JOINT_EMBED = 32


def vit_size(encoder, path):
    """(registry name, width, depth) of a ViT state dict in 4D-Humans' names."""
    if "pos_embed" not in encoder or "patch_embed.proj.weight" not in encoder:
        raise UserInputError(f"{path}: no ViT found (expected 'pos_embed' and 'patch_embed.proj.weight')")
    width = int(np.shape(encoder["pos_embed"])[-1])
    if width not in WIDTH_TO_SIZE:
        known = ", ".join(map(str, WIDTH_TO_SIZE))
        raise UserInputError(f"{path}: ViT width {width} is none of ViT-B/L/H's ({known}); "
                             "its head count cannot be read from the weights")
    depth = 1 + max((int(m.group(1)) for m in map(BLOCK_KEY.match, encoder) if m), default=-1)
    return WIDTH_TO_SIZE[width], width, depth


def vit_config(name, depth):
    """Config keys of a converted ViT (depth only where it is not the named size's)."""
    from HMR.backbones.vit import SIZES
    values = {"backbone": name, "vit_patch_padding": 2}
    if depth != SIZES[name][1]:
        values["vit_depth"] = depth
    return values


def resize_position_grid(pos_embed, source, target):
    """(1, 1 + prod(source), C) position embeddings -> (1, 1 + prod(target), C): the class slot kept,
    the grid resized bicubically as ViTPose's ``get_abs_pos`` does (torch ``F.interpolate``)."""
    import torch
    import torch.nn.functional as F
    grid = torch.as_tensor(pos_embed[:, 1:]).reshape(1, source[0], source[1], -1).permute(0, 3, 1, 2)
    resized = F.interpolate(grid, size=target, mode="bicubic", align_corners=False)
    resized = resized.permute(0, 2, 3, 1).reshape(1, target[0] * target[1], -1).numpy()
    return np.concatenate([pos_embed[:, :1], resized], 1)


def source_grid(tokens, path):
    """(rows, cols) of a pre-training position grid of ``tokens`` patches: square (224 px: 14 x 14) or
    2:1 (HAP's 256 x 128: 16 x 8)."""
    side = math.isqrt(tokens)
    if side * side == tokens:
        return side, side
    rows = math.isqrt(2 * tokens)
    if rows * (rows // 2) == tokens:
        return rows, rows // 2
    raise UserInputError(f"{path}: 'pos_embed' holds {tokens} patch positions, neither a square nor a 2:1 grid")


def discriminator_arrays(state, path):
    """4D-Humans' ``discriminator.*`` -> ``disc.*``. The conv weights (32, c, 1, 1) become dense ones;
    the 23 ``pose_out.{i}`` heads stack into ``joint_head_weight`` (23, 32); and as 4D-Humans flattens
    the (B, 32, 23) conv output channel-major while this project flattens (B, 23, 32) joint-major, the
    columns of ``D_alljoints_fc1`` are reordered to match."""
    out = {}
    heads_w, heads_b = {}, {}
    for key, value in state.items():
        module, _, leaf = key.rpartition(".")
        if module.startswith("pose_out."):
            index = int(module.split(".")[1])
            (heads_w if leaf == "weight" else heads_b)[index] = value
            continue
        if module not in DISCRIMINATOR_NAMES or leaf not in ("weight", "bias"):
            raise UserInputError(f"{path}: unexpected key 'discriminator.{key}' (shape {np.shape(value)})")
        value = np.asarray(value, np.float32)
        if module.startswith("D_conv"):
            value = value.reshape(value.shape[:2]) if leaf == "weight" else value
        if module == "D_alljoints_fc1" and leaf == "weight":
            value = value.reshape(-1, JOINT_EMBED, NUM_BODY_JOINTS).transpose(0, 2, 1).reshape(value.shape[0], -1)
        out[f"disc.{DISCRIMINATOR_NAMES[module]}.{leaf}"] = value
    if sorted(heads_w) != list(range(NUM_BODY_JOINTS)) or sorted(heads_b) != list(range(NUM_BODY_JOINTS)):
        raise UserInputError(f"{path}: expected 'discriminator.pose_out.0' ... '.{NUM_BODY_JOINTS - 1}' weights and "
                             "biases")
    out["disc.joint_head_weight"] = np.stack([np.reshape(heads_w[i], -1) for i in range(NUM_BODY_JOINTS)])
    out["disc.joint_head_bias"] = np.concatenate([np.reshape(heads_b[i], -1) for i in range(NUM_BODY_JOINTS)])
    return out


def decoder_config(head, path):
    """Config keys of HMR 2.0's decoder, read from ``smpl_head.*``."""
    try:
        dim = int(np.shape(head["transformer.to_token_embedding.weight"])[0])
        inner = int(np.shape(head["transformer.transformer.layers.0.1.fn.to_q.weight"])[0])
        mlp = int(np.shape(head["transformer.transformer.layers.0.2.fn.net.0.weight"])[0])
    except KeyError as err:
        raise UserInputError(f"{path}: 'smpl_head.{err.args[0]}' missing: not HMR 2.0's transformer decoder head") \
            from None
    depth = 1 + max(int(m.group(1)) for m in map(DECODER_LAYER_KEY.match, head) if m)
    return {"decoder_depth": depth, "decoder_width": dim, "decoder_heads": inner // DECODER_HEAD_DIM,
            "decoder_head_dim": DECODER_HEAD_DIM, "decoder_mlp_dim": mlp}


def split_hmr2(data, path):
    """HMR 2.0's ``state_dict`` -> (encoder, head, discriminator) dicts and the skipped non-weight keys
    (``HMR2_NON_WEIGHTS``); any other prefix stops."""
    if not isinstance(data.get("state_dict"), dict):
        raise UserInputError(f"{path}: expected a Lightning checkpoint with a 'state_dict'; found {sorted(data)[:8]}")
    parts = {"backbone.": {}, "smpl_head.": {}, "discriminator.": {}}
    skipped = []
    for key, value in data["state_dict"].items():
        prefix = next((p for p in parts if key.startswith(p)), None)
        if prefix is None:
            if any(_is_part(key, name) for name in HMR2_NON_WEIGHTS):
                skipped.append(key)
                continue
            raise UserInputError(f"{path}: unexpected key '{key}' (shape {np.shape(value)})")
        parts[prefix][key[len(prefix):]] = value
    if not parts["smpl_head."]:
        raise UserInputError(f"{path}: no 'smpl_head.*' keys: not an HMR 2.0 checkpoint")
    return parts["backbone."], parts["smpl_head."], parts["discriminator."], skipped


def _is_part(key, name):
    """Whether ``key`` is the non-weight entry ``name``: under it for a prefix (ending in '.'), else equal."""
    return key.startswith(name) if name.endswith(".") else key == name


def describe_skipped(keys):
    """One line naming the skipped non-weight keys by kind, e.g. ``smpl.* (10 keys: the body model's buffers)``."""
    groups = []
    for prefix, what in HMR2_NON_WEIGHTS.items():
        count = sum(_is_part(k, prefix) for k in keys)
        if count:
            name = f"{prefix}*" if prefix.endswith(".") else prefix
            groups.append(f"{name} ({count} key{'s' * (count > 1)}: {what})")
    return ", ".join(groups) or "none"


def backbone_state(fmt, data, path):
    """The ViT's state dict in 4D-Humans' names of a ``vitpose``, ``hap2d`` or ``hap`` checkpoint."""
    if fmt in ("vitpose", "hap2d"):
        state = data.get("state_dict", data)
        encoder = {}
        for key, value in state.items():
            if key.startswith("backbone."):
                if not (fmt == "hap2d" and VITPOSE_EXPERTS in key):
                    encoder[key[len("backbone."):]] = value
            elif not key.startswith(VITPOSE_IGNORED):
                raise UserInputError(f"{path}: unexpected key '{key}' (shape {np.shape(value)})")
        if fmt == "hap2d" and "pos_embed" in encoder:
            pos = np.asarray(encoder["pos_embed"], np.float32)
            if pos.shape[1] - 1 != HMR2_GRID[0] * HMR2_GRID[1]:
                raise UserInputError(f"{path}: 'pos_embed' holds {pos.shape[1] - 1} patch positions; HAP's 2D "
                                     f"model has {HMR2_GRID[0]} x {HMR2_GRID[1]}")
            encoder["pos_embed"] = resize_position_grid(pos, HMR2_GRID, HAP3D_GRID)
        return encoder
    state = data["model"] if isinstance(data.get("model"), dict) else data
    encoder = {}
    for key, value in state.items():
        if key.startswith(HAP_IGNORED):
            continue
        encoder["last_norm." + key[len("norm."):] if key.startswith("norm.") else key] = value
    if "pos_embed" in encoder:
        pos = np.asarray(encoder["pos_embed"], np.float32)
        grid = source_grid(pos.shape[1] - 1, path)
        if grid != HMR2_GRID:
            encoder["pos_embed"] = resize_position_grid(pos, grid, HMR2_GRID)
    return encoder


def converted(fmt, data, path):
    """({our name: array} before the shape check, the config values it needs, the source's skipped
    non-weight keys) of a ViT checkpoint."""
    if fmt in WHOLE_MODEL_FORMATS:
        encoder, head, disc, skipped = split_hmr2(data, path)
        name, _, depth = vit_size(encoder, path)
        arrays = {f"model.encoder.{k}": v for k, v in encoder.items()}
        arrays.update({f"model.regressor.{k}": v for k, v in head.items()})
        if disc:
            arrays.update(discriminator_arrays(disc, path))
        values = dict(vit_config(name, depth), architecture="hmr2", pose_head="rot6d", regressor_iterations=1,
                      img_size=256, img_width=0, image_normalization="imagenet", **decoder_config(head, path))
        return arrays, values, skipped
    encoder = backbone_state(fmt, data, path)
    name, _, depth = vit_size(encoder, path)
    crop = HAP3D_CONFIG if fmt == "hap2d" else {"img_size": 256, "img_width": 192, "image_normalization": "imagenet"}
    values = dict(vit_config(name, depth), **crop)
    return {f"encoder.{k}": v for k, v in encoder.items()}, values, []


def expected_shapes(fmt, values, with_discriminator):
    """{our name: shape} the conversion must fill, from the networks these config values build."""
    from model_utils.config import load_config
    from src import builders
    from src.checkpoints import structural_parameters
    from HMR.backbones import build_backbone
    config = load_config([]).replace(**dict({"pose_head": "rot6d"}, **values))
    encoder = build_backbone(config.backbone, **builders.backbone_options(config))
    if fmt not in WHOLE_MODEL_FORMATS:
        return {f"encoder.{k}": tuple(p.shape) for k, p in structural_parameters(encoder).items()}
    from HMR.heads import build_head
    head = build_head(builders.head_name(config), encoder.feature_dim,
                      {"rotmats": np.tile(np.eye(3), (24, 1, 1)), "shape": np.zeros(10), "cam": np.zeros(3)}, 1,
                      **builders.head_options(config))
    shapes = {f"model.encoder.{k}": tuple(p.shape) for k, p in structural_parameters(encoder).items()}
    shapes.update({f"model.regressor.{k}": tuple(p.shape) for k, p in structural_parameters(head).items()})
    if with_discriminator:
        from HMR.discriminator import Discriminator
        shapes.update({f"disc.{k}": tuple(p.shape) for k, p in structural_parameters(Discriminator()).items()})
    return shapes
