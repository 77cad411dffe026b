"""3DCrowdNet's and HAP's 3D snapshots (``snapshot_{epoch}.pth.tar``) -> this project's names.

The trainer saves ``{'epoch', 'network': DataParallel state dict, 'optimizer'}``; a bare state dict is read too,
``module.`` stripped. Keys:

* ``backbone.*``: torchvision's ResNet names (3DCrowdNet's ``ResNetBackbone``) or the ViT's (HAP: ``patch_embed.proj``,
  ``pos_embed``, ``blocks.{i}``, ``last_norm``; 4D-Humans' names, as ``HMR/backbones/vit.py``), kept, BatchNorm renamed;
* ``pose2feat.conv.{0,1}``, ``position_net.conv.0``, ``vit_conv_layer`` (HAP): kept, BatchNorm renamed;
* ``rotation_net.graph_block.{b}[.graph_block{1,2}].fcbn_list.{j}.{0,1}``: the per-joint Linear and BatchNorm1d,
  stacked in joint order into the batched block's ``weight`` (J, out, in), ``bias`` (J, out) and ``bn`` (J out)
  (``HMR/heads/crowdnet.py``); ``rotation_net.{root_pose,pose,shape,cam}_out.0`` -> ``..._out``;
* ``vposer.vposer.bodyprior_dec_*``: VPoser's decoder (``vposer.*``); its encoder (``bodyprior_enc_*``) is not used;
* ``human_model_layer.*``: the body model's buffers, skipped (the project's own body model is used).

The backbone is told from the keys (``pos_embed``: the ViT, its depth from the blocks; else a ResNet, its depth from
the blocks per stage), the feature width from ``position_net.conv.0``.
"""
import re

import numpy as np

from model_utils.errors import UserInputError
from src.convert.torch_names import BN_SUFFIXES, DROPPED_SUFFIXES

SKIPPED_PREFIXES = ("human_model_layer.", "vposer.vposer.bodyprior_enc_")
VPOSER_PREFIX = "vposer.vposer."
FEATURE_KEY = "position_net.conv.0.weight"          # (15 * 8, feature_dim, 1, 1)
VIT_KEY = "backbone.pos_embed"
RESNET_STEM_KEY = "backbone.conv1.weight"
GRAPH_KEY = re.compile(r"^(rotation_net\.graph_block\.\d+(?:\.graph_block[12])?)\.fcbn_list\.(\d+)\.([01])\.(\w+)$")
OUT_KEY = re.compile(r"^(rotation_net\.\w+_out)\.0\.(weight|bias)$")
BN_MODULES = re.compile(r"(^|\.)(bn\d|downsample\.1|conv\.1)$")
VIT_BLOCK_KEY = re.compile(r"^backbone\.blocks\.(\d+)\.")


def crowdnet_state(data, path):
    """The state dict of a 3DCrowdNet / HAP snapshot, ``module.`` stripped."""
    state = data["network"] if isinstance(data, dict) and isinstance(data.get("network"), dict) else data
    if not isinstance(state, dict):
        raise UserInputError(f"{path}: expected a 3DCrowdNet snapshot {{'network': state_dict}}, found "
                             f"{type(state).__name__}")
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    missing = [k for k in (FEATURE_KEY, "rotation_net.cam_out.0.weight", "pose2feat.conv.0.weight") if k not in state]
    if missing:
        raise UserInputError(f"{path}: not a 3DCrowdNet / HAP snapshot (no '{missing[0]}'; found {sorted(state)[:6]})")
    return state


def crowdnet_config(state, path):
    """The config values of the snapshot's model: backbone and its size, the feature width."""
    values = dict(architecture="crowdnet", pose_head="vposer", img_size=256, img_width=0, image_normalization="unit",
                  crowdnet_feature_dim=int(np.shape(state[FEATURE_KEY])[1]))
    if VIT_KEY in state:
        from src.convert.vit_formats import WIDTH_TO_SIZE
        width = int(np.shape(state[VIT_KEY])[-1])
        if width not in WIDTH_TO_SIZE:
            raise UserInputError(f"{path}: ViT width {width} is none of {sorted(WIDTH_TO_SIZE)}")
        depth = 1 + max(int(m.group(1)) for m in map(VIT_BLOCK_KEY.match, state) if m)
        values.update(backbone=WIDTH_TO_SIZE[width], vit_depth=depth, vit_patch_padding=2)
        return values
    if RESNET_STEM_KEY not in state:
        raise UserInputError(f"{path}: neither a ViT ('{VIT_KEY}') nor a ResNet ('{RESNET_STEM_KEY}') backbone")
    from HMR.backbones.resnet import DEPTHS
    blocks = tuple(len({k.split(".")[2] for k in state if k.startswith(f"backbone.layer{i}.")}) for i in range(1, 5))
    kind = "bottleneck" if "backbone.layer1.0.conv3.weight" in state else "basic"
    depth = next((d for d, layout in DEPTHS.items() if layout == (kind, blocks)), None)
    if depth is None:
        raise UserInputError(f"{path}: a ResNet with {kind} blocks {blocks} per stage is none of depths {sorted(DEPTHS)}")
    values.update(backbone="resnet", backbone_depth=depth, backbone_width=int(np.shape(state[RESNET_STEM_KEY])[0]))
    return values


def _stack_graph_blocks(pieces, path):
    """{block: {(part, leaf): {joint: array}}} -> {our name: stacked array}."""
    mapped = {}
    for block, parts in pieces.items():
        for (part, leaf), per_joint in parts.items():
            joints = sorted(per_joint)
            if joints != list(range(len(joints))):
                raise UserInputError(f"{path}: '{block}.fcbn_list' has joints {joints}, expected 0..{len(joints) - 1}")
            stacked = np.stack([np.asarray(per_joint[j], np.float32) for j in joints])
            if part == "0":
                mapped[f"{block}.{leaf}"] = stacked
            else:
                mapped[f"{block}.bn.{BN_SUFFIXES[leaf]}"] = stacked.reshape(-1)
    return mapped


def map_crowdnet(state, path):
    """{our name: array} of a snapshot's weights."""
    mapped, graph_pieces = {}, {}
    for key, value in state.items():
        leaf = key.rpartition(".")[2]
        if key.startswith(SKIPPED_PREFIXES) or leaf in DROPPED_SUFFIXES:
            continue
        graph = GRAPH_KEY.match(key)
        if graph:
            block, joint, part, leaf = graph.groups()
            graph_pieces.setdefault(block, {}).setdefault((part, leaf), {})[int(joint)] = value
            continue
        out = OUT_KEY.match(key)
        if out:
            mapped[f"{out.group(1)}.{out.group(2)}"] = np.asarray(value, np.float32)
            continue
        if key.startswith(VPOSER_PREFIX):
            name = "vposer." + key[len(VPOSER_PREFIX):]
        else:
            module = key.rpartition(".")[0]
            name = f"{module}.{BN_SUFFIXES[leaf]}" if BN_MODULES.search(module) and leaf in BN_SUFFIXES else key
        mapped[name] = np.asarray(value, np.float32)
    mapped.update(_stack_graph_blocks(graph_pieces, path))
    return mapped


def expected_shapes(values):
    """{our name: shape} of the model ``values`` describe (built without a body model)."""
    from HMR.backbones import BACKBONES, build_backbone
    from HMR.heads.crowdnet import PositionNet, RotationNet
    from HMR.smpl.vposer import VPoserDecoder
    from HMR.crowdnet import Pose2Feat
    from HMR.constants import CROWD30_NAMES
    from src.checkpoints import structural_parameters
    entry = BACKBONES.get(values["backbone"])
    keys = {"backbone_depth": values.get("backbone_depth"), "backbone_width": values.get("backbone_width"),
            "vit_depth": values.get("vit_depth"), "vit_patch_padding": values.get("vit_patch_padding")}
    options = {option: keys[key] for option, key in entry.config_options.items() if keys.get(key) is not None}
    if entry.fact("takes_crop"):
        options["crop"] = (values["img_size"], values["img_size"])
    backbone = build_backbone(values["backbone"], **options)
    feature_dim = values["crowdnet_feature_dim"]
    parts = {"backbone": backbone, "pose2feat": Pose2Feat(backbone.early_dim, len(CROWD30_NAMES)),
             "position_net": PositionNet(feature_dim), "rotation_net": RotationNet(feature_dim),
             "vposer": VPoserDecoder()}
    shapes = {f"{part}.{k}": tuple(p.shape) for part, cell in parts.items()
              for k, p in structural_parameters(cell).items()}
    if backbone.feature_dim != feature_dim:
        shapes.update({"vit_conv_layer.weight": (feature_dim, backbone.feature_dim, 1, 1),
                       "vit_conv_layer.bias": (feature_dim,)})
    return shapes


def converted(data, path):
    """({our name: array}, {name: shape} expected, config values) of a 3DCrowdNet / HAP snapshot."""
    state = crowdnet_state(data, path)
    values = crowdnet_config(state, path)
    return map_crowdnet(state, path), expected_shapes(values), values


VPOSER_KEYS = ("bodyprior_dec_fc1.weight", "bodyprior_dec_fc2.weight", "bodyprior_dec_out.weight")


def vposer_state(data, path):
    """A VPoser v1 snapshot's state dict (``snapshots/TR00_E096.pt``: the model's ``state_dict()``; a ``module.`` or
    ``vposer.`` prefix stripped)."""
    state = data if isinstance(data, dict) else {}
    for prefix in ("module.", "vposer."):
        state = {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in state.items()}
    missing = [k for k in VPOSER_KEYS if k not in state]
    if missing:
        raise UserInputError(f"{path}: not a VPoser v1 snapshot (no '{missing[0]}'; found {sorted(state)[:6]})")
    return state


def converted_vposer(data, path):
    """({our name: array}, {name: shape} expected) of a VPoser v1 snapshot: the decoder, and the encoder when the
    snapshot has it (BatchNorm renamed)."""
    from HMR.smpl.vposer import VPoserDecoder, VPoserEncoder
    from src.checkpoints import structural_parameters
    state = vposer_state(data, path)
    mapped = {}
    for key, value in state.items():
        module, _, leaf = key.rpartition(".")
        if leaf in DROPPED_SUFFIXES:
            continue
        name = f"{module}.{BN_SUFFIXES[leaf]}" if module.startswith("bodyprior_enc_bn") and leaf in BN_SUFFIXES else key
        mapped[name] = np.asarray(value, np.float32)
    cells = [VPoserDecoder()] + ([VPoserEncoder()] if any(k.startswith("bodyprior_enc_") for k in state) else [])
    expected = {k: tuple(p.shape) for cell in cells for k, p in structural_parameters(cell).items()}
    return mapped, expected
