"""Read a PyTorch checkpoint, map it onto this project's names, check every key and shape, write.

Formats (from the public code; weights are downloaded by users):

* ``spin`` -- SPIN's ``model_checkpoint.pt``: ``{"model": state_dict}``, no key prefix:
  torchvision ResNet-50 names (no ``fc.*``) + the head + buffers ``init_pose`` (1, 144),
  ``init_shape`` (1, 10), ``init_cam`` (1, 3).
* ``mmpose`` -- mmpose 0.x ``hmr_mesh_224x224-*.pth``: ``{"state_dict": ...}`` with
  ``backbone.*`` and ``mesh_head.*`` (same names as SPIN). ``generator.0.*``/``generator.1.*``
  (the same tensors again, used when ``backbone.*``/``mesh_head.*`` are absent), ``smpl.*``
  (the body model's buffers) and ``discriminator.*`` (another discriminator design) are ignored.
* ``torchvision-resnet50`` -- ImageNet ResNet-50: the backbone names + ``fc.*`` (dropped);
  the result initialises the encoder only (the regressor keeps its initialisation).
* ``cliff`` -- CLIFF's releases (``res50-PA45.7_MJE72.0_MVE85.3_3dpw.pt``,
  ``hr48-PA43.0_MJE69.0_MVE81.2_3dpw.pt``): ``{"model": state_dict}``, keys possibly prefixed
  ``module.``: ``encoder.*`` (torchvision ResNet-50 names, or CLIFF's classification HRNet-W48,
  told apart by its ``encoder.stage*`` keys) + SPIN's head names, whose ``fc1`` also takes the
  3 ``bbox_info`` inputs.

* ``metahmr`` -- Meta-HMR's releases (Nie et al. 2024: ``hmr_resnet_3dpw.pt``, ``hmr_resnet_h36m.pt``,
  ``cliff_hrnet_3dpw.pt``, ``cliff_hrnet_h36m.pt``): ``{"model", "model_aux", "optimizer", "epoch",
  ...}``, the main network and the auxiliary one. Each network is told by its keys: flat SPIN names
  (torchvision ResNet-50 + the head + ``init_*``); ``encoder.*`` (CLIFF's names: the classification
  HRNet of ``CliffAuxNet_hrnet``, or a ResNet-50); ``backbone.*`` (the pose-estimation HRNet of
  ``CliffMetaNet_hrnet``, 15 w features, whose unused heatmap layer ``backbone.final_layer.*`` is
  dropped). HRNet widths are read from ``transition1``. A network whose ``fc1`` takes 3 more inputs
  than its features + 157 is CLIFF's (bbox_info), converted as ``--architecture cliff``. Written as
  one checkpoint with a ``model.`` and an ``aux.`` part (what ``eval.py``/``demo.py --adapt`` read)
  and a config with Meta-HMR's 10 main and 3 auxiliary regressor iterations, its 256 x 192 crops
  (``--bbox_type rect``, for the HMR releases too) and each network's encoder (``backbone``,
  ``aux_backbone``).

* ``hmr2``, ``vitpose``, ``hap``, ``hap2d`` -- HMR 2.0's Lightning checkpoint, ViTPose's and HAP's ViT
  backbones (HAP's pre-training, and its 2D pose model as HAP's 3D model starts from it):
  ``src/convert/vit_formats.py``.
* ``hybrik`` -- HybrIK's HRNet-W48 and ResNet-34 releases: ``src/convert/hybrik_format.py``.
* ``ehgformer`` -- EHGFormer's mesh refine checkpoints (a temporal refiner; the config written names it with
  ``temporal_refiner`` and ``temporal_checkpoint``): ``src/convert/ehgformer_format.py``.
* ``crowdnet`` -- 3DCrowdNet's (ResNet-50) and HAP's (ViT-B) 3D snapshots ``snapshot_{epoch}.pth.tar``:
  ``src/convert/crowdnet_format.py``.
* ``vposer`` -- VPoser v1's snapshot (``vposer_v1_0/snapshots/TR00_E096.pt``, the ``state_dict`` of
  ``human_body_prior``'s ``VPoser``), for ``--vposer_path``: ``src/convert/crowdnet_format.py``.

SPIN, mmpose, CLIFF and Meta-HMR models run with the ``rot6d`` head and ImageNet normalisation: the
matching config is written beside the checkpoint (``FILE.yaml``) for ``--config_path``.
"""
import logging
import os

import numpy as np

from model_utils.errors import UserInputError
from model_utils.atomic_files import write_checkpoint
from src.convert.torch_names import BN_SUFFIXES, DROPPED_SUFFIXES, backbone_name, head_name
from src.convert.vit_formats import VIT_FORMATS

logger = logging.getLogger(__name__)

FORMATS = ("spin", "mmpose", "torchvision-resnet50", "cliff", "metahmr", "hybrik", "ehgformer", "crowdnet",
           "vposer") + VIT_FORMATS
METAHMR_PARTS = {"model": "model.", "model_aux": "aux."}      # Meta-HMR's key -> this project's checkpoint part
METAHMR_ITERATIONS = {"regressor_iterations": 10, "aux_iterations": 3}
# Meta-HMR trains and evaluates every release (HMR and CLIFF) with --bbox_type rect: 256 x 192 crops, the
# box widened to that aspect (the README's commands; the default of eval_hmr.py and eval_cliff.py)
METAHMR_CROP = {"img_size": 256, "img_width": 192}
ESTIMATE_INPUTS = 144 + 10 + 3          # the running pose, shape and camera fc1 also sees
BBOX_INFO_INPUTS = 3
CLIFF_ENCODER = "encoder."
POSE_HRNET_ENCODER = "backbone."         # Meta-HMR's CliffMetaNet_hrnet
POSE_HRNET_UNUSED = "backbone.final_layer."
HRNET_WIDTH_KEY = "transition1.0.0.weight"   # (w, 256, 3, 3): the first branch's width
MMPOSE_IGNORED = ("smpl.", "discriminator.")
BACKBONE_OPTIONS = {"resnet": {"depth": 50, "width": 64}, "hrnet": {"width": 48}, "pose_hrnet": {"width": 48}}
# what a --from format's files hold (these names are foreign checkpoint layouts, not architectures):
# ``bbox_info`` - a CLIFF release (the encoder told by its keys, a head that reads bbox_info);
# ``whole_model`` - a Lightning checkpoint of a whole model (read leniently: it also pickles other objects)
FORMAT_FACTS = {"cliff": ("bbox_info",), "hmr2": ("whole_model",)}


def format_has(fmt, fact):
    """Whether the --from format ``fmt`` has ``fact`` (``FORMAT_FACTS``)."""
    return fact in FORMAT_FACTS.get(fmt, ())


CLIFF_CONFIG = {"architecture": "cliff", "img_size": 256, "img_width": 192}     # CLIFF's 256 x 192 crops
CONVERTED_CONFIG = {"backbone_depth": 50, "backbone_width": 64, "pose_head": "rot6d", "regressor_iterations": 3,
                    "img_size": 224, "image_normalization": "imagenet"}


def read_torch_checkpoint(path, lenient=False):
    """The checkpoint's top-level dict, tensors as numpy arrays.

    ``lenient``: a file that also pickles other objects (a Lightning ``.ckpt``'s hyper-parameters)
    is read with :mod:`src.convert.stub_pickle`, which builds no class outside torch and numpy."""
    try:
        import torch
    except ImportError as err:
        raise UserInputError(f"reading {path} needs PyTorch (pip install torch): the .pt/.pth format is torch's") \
            from err
    if not os.path.isfile(path):
        raise UserInputError(f"--input not found: {path}")
    try:
        if lenient:
            from src.convert import stub_pickle
            data = torch.load(path, map_location="cpu", weights_only=False, pickle_module=stub_pickle)
        else:
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a bad file
        raise UserInputError(f"{path}: not a readable PyTorch checkpoint ({type(err).__name__}: {err})") from err

    def to_numpy(value):
        if isinstance(value, dict):
            return {k: to_numpy(v) for k, v in value.items()}
        return value.detach().cpu().numpy() if hasattr(value, "detach") else value
    return to_numpy(data)


def _state_dict(data, path, key):
    if key is None:
        return data
    if key not in data or not isinstance(data[key], dict):
        raise UserInputError(f"{path}: expected a '{key}' state dict at the top level; found {sorted(data)[:8]}")
    return data[key]


def map_names(data, fmt, path, expected):
    """{our name: array} of a checkpoint in format ``fmt``; unknown keys stop with their name.

    ``expected``: :func:`expected_parameters` of the target model (CLIFF's BatchNorm renaming
    looks names up in it)."""
    if fmt not in FORMATS:
        raise UserInputError(f"--from must be one of {FORMATS}, got {fmt!r}")
    mapped = {}
    if fmt == "mmpose":
        state = _state_dict(data, path, "state_dict")
        has_named = any(k.startswith(("backbone.", "mesh_head.")) for k in state)
        prefixes = {"backbone.": backbone_name, "mesh_head.": head_name} if has_named else \
            {"generator.0.": backbone_name, "generator.1.": head_name}
        other = ("generator.",) if has_named else ("backbone.", "mesh_head.")
        for key, value in state.items():
            prefix = next((p for p in prefixes if key.startswith(p)), None)
            if prefix is None:
                if key.startswith(MMPOSE_IGNORED + other):
                    continue
                raise UserInputError(f"{path}: unexpected key '{key}' (shape {np.shape(value)})")
            _add(mapped, prefixes[prefix](key[len(prefix):]), key, value, path)
        return mapped
    if format_has(fmt, "bbox_info"):
        return _map_cliff(_cliff_state(data, path), path, expected)
    state = _state_dict(data, path, "model") if fmt == "spin" else \
        (data.get("state_dict", data) if isinstance(data.get("state_dict"), dict) else data)
    for key, value in state.items():
        if fmt == "torchvision-resnet50" and key.startswith("fc."):
            continue                                                 # the ImageNet classifier
        name = backbone_name(key) or (head_name(key) if fmt == "spin" else None)
        if name is None and key.endswith("num_batches_tracked"):
            continue
        _add(mapped, name, key, value, path)
    return mapped


def _cliff_state(data, path):
    """CLIFF's ``model`` state dict with DataParallel's ``module.`` prefixes stripped."""
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in _state_dict(data, path, "model").items()}


def cliff_backbone(state):
    """``hrnet`` for a CLIFF state dict (``module.`` stripped) with HRNet stages, else ``resnet``."""
    return "hrnet" if any(k.startswith(CLIFF_ENCODER + "stage") for k in state) else "resnet"


def _map_cliff(state, path, expected):
    """CLIFF's ``encoder.*`` + head keys -> this project's names.

    The encoders keep CLIFF's module paths; a BatchNorm tensor is renamed where the module's
    renamed parameter is one ``expected`` holds (``{our name: shape}``).
    """
    mapped = {}
    for key, value in state.items():
        if not key.startswith(CLIFF_ENCODER):
            _add(mapped, head_name(key), key, value, path)
            continue
        module, _, leaf = key.rpartition(".")
        if leaf in DROPPED_SUFFIXES:
            continue
        renamed = f"{module}.{BN_SUFFIXES[leaf]}" if leaf in BN_SUFFIXES else None
        _add(mapped, renamed if renamed in expected else key, key, value, path)
    return mapped


def _add(mapped, name, key, value, path):
    if name is None:
        if key.endswith("num_batches_tracked"):
            return
        raise UserInputError(f"{path}: unexpected key '{key}' (shape {np.shape(value)})")
    mapped[name] = np.asarray(value, np.float32)


def backbone_options(backbone, width=None):
    """Constructor options of a converted encoder (``width``: an HRNet's, read from its checkpoint)."""
    return dict(BACKBONE_OPTIONS[backbone], **({"width": width} if width else {}))


def encoder_shapes(backbone, width=None):
    """({our name: shape} of the encoder, its feature size); builds it (HRNet-W48: 75 M parameters)."""
    from HMR.backbones import build_backbone
    from src.checkpoints import structural_parameters
    encoder = build_backbone(backbone, **backbone_options(backbone, width))
    return {f"encoder.{k}": tuple(p.shape) for k, p in structural_parameters(encoder).items()}, encoder.feature_dim


def head_shapes(feature_dim, condition_dim=0):
    """{our name: shape} of the rot6d head on ``feature_dim`` features (+ ``condition_dim`` bbox_info)."""
    from HMR.heads.iterative import Rot6dRegressor
    from src.checkpoints import structural_parameters
    head = Rot6dRegressor(feature_dim, np.zeros(144), np.zeros(10), np.zeros(3), condition_dim=condition_dim)
    return {f"regressor.{k}": tuple(p.shape) for k, p in structural_parameters(head).items()}


def expected_parameters(fmt, backbone="resnet"):
    """{our name: shape} the converted checkpoint must fill: encoder (ResNet-50 or HRNet-W48)
    (+ rot6d head unless ImageNet)."""
    shapes, feature_dim = encoder_shapes(backbone)
    if fmt != "torchvision-resnet50":
        shapes.update(head_shapes(feature_dim, BBOX_INFO_INPUTS if format_has(fmt, "bbox_info") else 0))
    return shapes


def check_against(mapped, expected, path):
    """Every expected name present with its shape, nothing else; buffers (1, n) or (n,) both accepted."""
    for name, shape in expected.items():
        if name not in mapped:
            raise UserInputError(f"{path}: missing '{name}' (expected shape {shape})")
        value = mapped[name]
        if value.shape != shape:
            if value.size == int(np.prod(shape)) and name.startswith("regressor.init_"):
                mapped[name] = value.reshape(shape)
                continue
            raise UserInputError(f"{path}: '{name}' has shape {value.shape}, expected {shape}")
    extra = sorted(set(mapped) - set(expected))
    if extra:
        raise UserInputError(f"{path}: unexpected parameter '{extra[0]}' (shape {mapped[extra[0]].shape})")
    return mapped


def write_config(output, fmt, takes_bbox_info=False, **encoders):
    """The config a converted checkpoint needs (``--config_path``), beside it as ``FILE.yaml``
    (``takes_bbox_info``: a head that reads CLIFF's 3 bbox_info numbers, told by its input size;
    ``encoders``: ``backbone``, ``backbone_width``, ``aux_backbone``, ``aux_backbone_width`` where they are
    not ResNet-50's)."""
    values = dict(CONVERTED_CONFIG, checkpoint_file_path=os.path.abspath(output))
    if fmt == "metahmr":
        values.update(METAHMR_ITERATIONS, **METAHMR_CROP)
    if takes_bbox_info:
        values.update(CLIFF_CONFIG)
    values.update(encoders)
    if fmt == "torchvision-resnet50":
        values = {"backbone_depth": 50, "backbone_width": 64, "image_normalization": "imagenet"}
    return write_config_file(output, fmt, values)


def write_config_file(output, fmt, values):
    """``values`` as the YAML config beside the converted checkpoint ``output`` (``FILE.yaml``), atomically."""
    import yaml

    from model_utils.atomic_files import atomic_write
    path = os.path.splitext(output)[0] + ".yaml"
    with atomic_write(path, "w") as handle:
        handle.write(f"# Config for {os.path.basename(output)} (converted from {fmt} by src/convert)\n")
        yaml.safe_dump(values, handle, sort_keys=False)
    return path


def _encoder_values(backbone, width):
    """The config keys of one converted encoder (none for ResNet-50, the written default)."""
    return {} if backbone == "resnet" else {"backbone": backbone, "backbone_width": width}


def _metahmr_encoder(state):
    """(backbone, the state in CLIFF's ``encoder.`` names, or None for SPIN's flat ones) of one
    Meta-HMR network."""
    if any(k.startswith(POSE_HRNET_ENCODER) for k in state):
        return "pose_hrnet", {CLIFF_ENCODER + k[len(POSE_HRNET_ENCODER):] if k.startswith(POSE_HRNET_ENCODER) else k: v
                              for k, v in state.items() if not k.startswith(POSE_HRNET_UNUSED)}
    if any(k.startswith(CLIFF_ENCODER) for k in state):
        return cliff_backbone(state), state
    return "resnet", None


def _metahmr_network(state, path, part):
    """One Meta-HMR network -> ({our name: array}, condition size: 0 HMR, 3 CLIFF, backbone, width)."""
    if "fc1.weight" not in state:
        raise UserInputError(f"{path}: '{part}' has no 'fc1.weight': not a Meta-HMR network")
    backbone, cliff_state = _metahmr_encoder(state)
    width = BACKBONE_OPTIONS[backbone]["width"]
    if backbone != "resnet":
        key = CLIFF_ENCODER + HRNET_WIDTH_KEY
        if key not in cliff_state:
            raise UserInputError(f"{path}: '{part}' has HRNet keys but no '{key}' to read its width from")
        width = int(np.shape(cliff_state[key])[0])
    expected, features = encoder_shapes(backbone, width)
    inputs = int(np.shape(state["fc1.weight"])[1])
    condition = inputs - features - ESTIMATE_INPUTS
    if condition not in (0, BBOX_INFO_INPUTS):
        raise UserInputError(f"{path}: '{part}.fc1.weight' has {inputs} inputs, expected {features + ESTIMATE_INPUTS} "
                             f"(HMR) or {features + ESTIMATE_INPUTS + BBOX_INFO_INPUTS} (CLIFF, with bbox_info) "
                             f"for its {backbone} encoder ({features}-d features)")
    expected.update(head_shapes(features, condition))
    mapped = map_names({"model": state}, "spin", path, expected) if cliff_state is None else \
        _map_cliff(cliff_state, path, expected)
    return check_against(mapped, expected, path), condition, backbone, width


def _convert_metahmr(data, input_path, output_path):
    """Both networks of a Meta-HMR release into one checkpoint (``model.``/``aux.``) and its config."""
    arrays, conditions, encoders = {}, set(), {}
    for key, prefix in METAHMR_PARTS.items():
        mapped, condition, backbone, width = _metahmr_network(_state_dict(data, input_path, key), input_path, key)
        arrays.update({prefix + name: value for name, value in mapped.items()})
        conditions.add(condition)
        encoders[prefix] = (backbone, width)
    if len(conditions) > 1:
        raise UserInputError(f"{input_path}: 'model' and 'model_aux' are different architectures (one takes "
                             "bbox_info): both must be HMR or both CLIFF")
    values = _encoder_values(*encoders["model."])
    if encoders["aux."] != encoders["model."]:
        values.update(aux_backbone=encoders["aux."][0], aux_backbone_width=encoders["aux."][1])
    checkpoint = write_checkpoint(arrays, output_path)
    config = write_config(output_path, "metahmr", takes_bbox_info=conditions == {BBOX_INFO_INPUTS}, **values)
    logger.info("%s (metahmr): %d tensors -> %s (config %s)", input_path, len(arrays), checkpoint, config)
    return {"checkpoint": checkpoint, "config": config, "parameters": len(arrays)}


def _convert_vit(fmt, data, input_path, output_path):
    """HMR 2.0, ViTPose or HAP (``src/convert/vit_formats.py``) -> checkpoint and config."""
    from src.convert.vit_formats import converted, describe_skipped, expected_shapes
    arrays, values, skipped = converted(fmt, data, input_path)
    expected = expected_shapes(fmt, values, any(k.startswith("disc.") for k in arrays))
    mapped = check_against({k: np.asarray(v, np.float32) for k, v in arrays.items()}, expected, input_path)
    checkpoint = write_checkpoint(mapped, output_path)
    config = write_config_file(output_path, fmt, dict(values, checkpoint_file_path=os.path.abspath(output_path)))
    logger.info("%s (%s): %d tensors -> %s (config %s); skipped non-weight keys: %s", input_path, fmt, len(mapped),
                checkpoint, config, describe_skipped(skipped))
    return {"checkpoint": checkpoint, "config": config, "parameters": len(mapped), "skipped": skipped}


def _convert_hybrik(data, input_path, output_path):
    """A HybrIK release (``src/convert/hybrik_format.py``) -> checkpoint and config."""
    from src.convert.hybrik_format import converted
    arrays, expected, values = converted(data, input_path)
    mapped = check_against(arrays, expected, input_path)
    checkpoint = write_checkpoint(mapped, output_path)
    config = write_config_file(output_path, "hybrik", dict(values, checkpoint_file_path=os.path.abspath(output_path)))
    logger.info("%s (hybrik, %s): %d tensors -> %s (config %s); the body model's buffers (smpl.*) skipped",
                input_path, values["backbone"], len(mapped), checkpoint, config)
    return {"checkpoint": checkpoint, "config": config, "parameters": len(mapped)}


def _convert_ehgformer(data, input_path, output_path):
    """An EHGFormer mesh refine checkpoint (``src/convert/ehgformer_format.py``) -> checkpoint and config."""
    from src.convert.ehgformer_format import converted
    arrays, expected, values = converted(data, input_path)
    mapped = check_against(arrays, expected, input_path)
    checkpoint = write_checkpoint(mapped, output_path)
    config = write_config_file(output_path, "ehgformer",
                               dict(values, temporal_checkpoint=os.path.abspath(output_path)))
    logger.info("%s (ehgformer, joint labels %s): %d tensors -> %s (config %s); the body model's buffers "
                "(head.smpl.*) skipped", input_path, values["ehgformer_joint_label"], len(mapped), checkpoint, config)
    return {"checkpoint": checkpoint, "config": config, "parameters": len(mapped)}


def _convert_crowdnet(data, input_path, output_path):
    """A 3DCrowdNet / HAP 3D snapshot (``src/convert/crowdnet_format.py``) -> checkpoint and config."""
    from src.convert.crowdnet_format import converted
    arrays, expected, values = converted(data, input_path)
    mapped = check_against(arrays, expected, input_path)
    checkpoint = write_checkpoint(mapped, output_path)
    config = write_config_file(output_path, "crowdnet", dict(values, checkpoint_file_path=os.path.abspath(output_path)))
    logger.info("%s (crowdnet, %s): %d tensors -> %s (config %s); the body model's buffers (human_model_layer.*) "
                "and VPoser's encoder skipped", input_path, values["backbone"], len(mapped), checkpoint, config)
    return {"checkpoint": checkpoint, "config": config, "parameters": len(mapped)}


def _convert_vposer(data, input_path, output_path):
    """A VPoser v1 snapshot -> a checkpoint ``vposer_path`` names (no config: it is a part of crowdnet models)."""
    from src.convert.crowdnet_format import converted_vposer
    arrays, expected = converted_vposer(data, input_path)
    checkpoint = write_checkpoint(check_against(arrays, expected, input_path), output_path)
    logger.info("%s (vposer): %d tensors -> %s (use it as --vposer_path)", input_path, len(arrays), checkpoint)
    return {"checkpoint": checkpoint, "config": None, "parameters": len(arrays)}


# formats whose files convert as a whole by their own function (the names are checkpoint layouts)
WHOLE_MODEL_CONVERTERS = {"hybrik": _convert_hybrik, "ehgformer": _convert_ehgformer, "crowdnet": _convert_crowdnet,
                          "vposer": _convert_vposer}


def convert(fmt, input_path, output_path):
    """Convert one checkpoint. Returns {"checkpoint", "config", "parameters"}."""
    if fmt not in FORMATS:
        raise UserInputError(f"--from must be one of {FORMATS}, got {fmt!r}")
    data = read_torch_checkpoint(input_path, lenient=format_has(fmt, "whole_model"))
    if fmt in VIT_FORMATS:
        return _convert_vit(fmt, data, input_path, output_path)
    if fmt == "metahmr":
        return _convert_metahmr(data, input_path, output_path)
    if fmt in WHOLE_MODEL_CONVERTERS:
        return WHOLE_MODEL_CONVERTERS[fmt](data, input_path, output_path)
    backbone = "resnet"
    if format_has(fmt, "bbox_info"):
        backbone = cliff_backbone(_cliff_state(data, input_path))
    expected = expected_parameters(fmt, backbone)
    mapped = check_against(map_names(data, fmt, input_path, expected), expected, input_path)
    checkpoint = write_checkpoint(mapped, output_path)
    config = write_config(output_path, fmt, format_has(fmt, "bbox_info"),
                          **_encoder_values(backbone, BACKBONE_OPTIONS[backbone]["width"]))
    logger.info("%s (%s): %d tensors -> %s (config %s)", input_path, fmt, len(mapped), checkpoint, config)
    return {"checkpoint": checkpoint, "config": config, "parameters": len(mapped)}
