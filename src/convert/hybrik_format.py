"""HybrIK's released checkpoints (Jeff-sjtu/HybrIK) -> this project's names.

* ``hybrik_hrnet48_w3dpw.pth``, ``hybrik_hrnet48_wo3dpw.pth``: ``HRNetSMPLCam`` - ``preact.*`` (HRNet-W48 with
  the classification head and the heatmap ``final_layer``), ``decshape``, ``decphi``, ``deccam``, ``decsigma``,
  the buffers ``init_shape`` (10,) and ``init_cam`` (1,).
* ``hybrik_res34_w3dpw.pth``: ``Simple3DPoseBaseSMPLCam`` - ``preact.*`` (a torchvision-layout ResNet),
  ``deconv_layers.*``, ``final_layer.*``, ``fc1``, ``fc2``, the same heads with a 3-number camera.

A raw state dict or ``{"model": state_dict}`` (HybrIK saves ``m.module.state_dict()``; its demo and
validation read both), ``module.`` prefixes stripped. The body model's buffers (``smpl.*``) are not weights:
the project's own body model is used. The encoder is told from the keys: ``preact.stage*`` is the HRNet
(width from its first transition), else a ResNet (depth from its blocks, width from its stem).
"""
import numpy as np

from model_utils.errors import UserInputError
from src.convert.torch_names import BN_SUFFIXES, DROPPED_SUFFIXES

HEAD_MODULES = ("fc1", "fc2", "decshape", "decphi", "deccam", "decsigma")
HEAD_BUFFERS = ("init_shape", "init_cam")
SKIPPED = ("smpl.",)
HRNET_STAGE_PREFIX = "preact.stage"
HRNET_WIDTH_KEY = "preact.transition1.0.0.weight"       # (w, 256, 3, 3)
RESNET_STEM_KEY = "preact.conv1.weight"                 # (width, 3, 7, 7)
HEAD_HIDDEN_KEY = "fc1.weight"                          # present on the ResNet model only
CAMERA_KEY = "deccam.weight"                            # (1, F) HRNet or (3, F) ResNet


def hybrik_state(data, path):
    """The state dict of a HybrIK file, ``module.`` stripped."""
    state = data["model"] if isinstance(data.get("model"), dict) else data
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    if not any(k.startswith("preact.") for k in state) or CAMERA_KEY not in state:
        raise UserInputError(f"{path}: not a HybrIK checkpoint (expected 'preact.*' and '{CAMERA_KEY}' keys; found "
                             f"{sorted(state)[:6]})")
    return state


def _resnet_depth(state, path):
    """ResNet depth from the blocks per stage and the block type."""
    from HMR.backbones.resnet import DEPTHS
    blocks = tuple(len({k.split(".")[2] for k in state if k.startswith(f"preact.layer{i}.")}) for i in range(1, 5))
    kind = "bottleneck" if "preact.layer1.0.conv3.weight" in state else "basic"
    for depth, layout in DEPTHS.items():
        if layout == (kind, blocks):
            return depth
    raise UserInputError(f"{path}: a ResNet with {kind} blocks {blocks} per stage is none of depths {sorted(DEPTHS)}")


def hybrik_encoder(state, path):
    """(backbone registry name, config values) of a HybrIK state dict."""
    if any(k.startswith(HRNET_STAGE_PREFIX) for k in state):
        if HRNET_WIDTH_KEY not in state:
            raise UserInputError(f"{path}: HRNet keys but no '{HRNET_WIDTH_KEY}' to read its width from")
        return "hybrik_hrnet", {"backbone_width": int(np.shape(state[HRNET_WIDTH_KEY])[0])}
    if RESNET_STEM_KEY not in state:
        raise UserInputError(f"{path}: neither HRNet ('preact.stage*') nor ResNet ('{RESNET_STEM_KEY}') keys")
    return "hybrik_resnet", {"backbone_depth": _resnet_depth(state, path),
                             "backbone_width": int(np.shape(state[RESNET_STEM_KEY])[0])}


def expected_shapes(backbone, values):
    """{our name: shape} of the encoder and heads a HybrIK model of ``backbone`` has."""
    from HMR.backbones import BACKBONES, build_backbone
    from HMR.heads import build_head
    from HMR.hybrik import NUM_JOINTS
    from HMR.constants import HYBRIK_DEPTH_DIM
    from src.checkpoints import structural_parameters
    entry = BACKBONES.get(backbone)
    options = {option: values[key] for option, key in entry.config_options.items() if key in values}
    encoder = build_backbone(backbone, num_joints=NUM_JOINTS, depth_dim=HYBRIK_DEPTH_DIM, **options)
    head = build_head("hybrik", encoder.feature_dim, {"shape": np.zeros(10, np.float32)}, 1,
                      hidden=entry.fact("head_hidden", 0), camera_numbers=entry.fact("camera_numbers", 1),
                      num_joints=NUM_JOINTS)
    shapes = {f"encoder.{k}": tuple(p.shape) for k, p in structural_parameters(encoder).items()}
    shapes.update({f"regressor.{k}": tuple(p.shape) for k, p in structural_parameters(head).items()})
    return shapes


def map_hybrik(state, hrnet, expected, path):
    """{our name: array}: heads under ``regressor.``; the HRNet's (``hrnet``) ``preact.`` becomes ``encoder.``,
    the ResNet model's image part (``preact``, ``deconv_layers``, ``final_layer``) goes under ``encoder.``; BatchNorm
    tensors renamed where the renamed name is one ``expected`` has."""
    mapped = {}
    for key, value in state.items():
        module, _, leaf = key.rpartition(".")
        if key.startswith(SKIPPED) or leaf in DROPPED_SUFFIXES:
            continue
        if key in HEAD_BUFFERS or module in HEAD_MODULES:
            name = f"regressor.{key}"
        elif hrnet and key.startswith("preact."):
            name = f"encoder.{key[len('preact.'):]}"
        else:
            name = f"encoder.{key}"
        bn = name.rpartition(".")[0] + "." + BN_SUFFIXES[leaf] if leaf in BN_SUFFIXES else None
        name = bn if bn in expected else name
        if name not in expected:
            raise UserInputError(f"{path}: unexpected key '{key}' (shape {np.shape(value)})")
        mapped[name] = np.asarray(value, np.float32)
    return mapped


def converted(data, path):
    """({our name: array}, {name: shape} expected, config values) of a HybrIK file."""
    state = hybrik_state(data, path)
    backbone, values = hybrik_encoder(state, path)
    expected = expected_shapes(backbone, values)
    values = dict(architecture="hybrik", pose_head="twist", backbone=backbone, **values, img_size=256, img_width=0,
                  image_normalization="hybrik")
    hrnet = any(k.startswith(HRNET_STAGE_PREFIX) for k in state)
    return map_hybrik(state, hrnet, expected, path), expected, values
