"""EHGFormer's mesh refine checkpoints (``Brian417-cup/EHGFormer``, ``best_epoch_manual<1|2>.bin``) -> this
project's names.

The trainer saves ``{'epoch', 'lr', 'optimizer', 'model': DataParallel state dict, 'best_jpe'}``; a bare state
dict is read too, ``module.`` prefixes stripped. Keys:

* ``backbone.*``: MixSTE2 (:mod:`HMR.temporal.ehgformer_backbone`, same names); its 3-D pose ``head.*``
  (unused by the mesh model) and the hyperedges' ``joint_label`` / ``merge_weight`` (fixed, not weights)
  are skipped - ``joint_label`` only checked against ``hyper_matrix``;
* ``head.fc1``, ``head.fc2`` / ``head.head_pose`` (Conv1d (out, in, 5) -> (out, in, 5, 1)), ``head.bn1``,
  ``head.bn2`` (BatchNorm renamed); ``head.smpl.*`` (the body model's buffers) skipped - the project's
  own body model is used.

The architecture is read from the shapes: width from ``Spatial_patch_to_embedding``, blocks from
``STEblocks``, heads from ``w1`` (heads, width / heads), the head's width from ``fc1``, and the joint-label
set from ``hyper_matrix`` (17, E): E = 6 is ``manual1``, E = 3 ``manual2`` (labels compared with the file's).
"""
import numpy as np

from model_utils.errors import UserInputError
from src.convert.torch_names import BN_SUFFIXES, DROPPED_SUFFIXES

SKIPPED_PREFIXES = ("head.smpl.", "backbone.head.")
FIXED_SUFFIXES = ("hyper_edge.joint_label", "hyper_edge.merge_weight")
TIME_CONVS = ("head.fc2.weight", "head.head_pose.weight")
BATCH_NORMS = ("head.bn1.", "head.bn2.")
EMBED_KEY = "backbone.Spatial_patch_to_embedding.weight"      # (C, 3)
HEADS_KEY = "backbone.STEblocks.0.hyper_attn_blk.attn.w1"      # (heads, C / heads)
HYPER_KEY = "backbone.STEblocks.0.hyper_attn_blk.hyper_edge.hyper_matrix"
LABEL_KEY = "backbone.STEblocks.0.hyper_attn_blk.hyper_edge.joint_label"
HIDDEN_KEY = "head.fc1.weight"                                 # (hidden, 17 C)


def ehgformer_state(data, path):
    """The state dict of an EHGFormer file, ``module.`` stripped."""
    state = data["model"] if isinstance(data, dict) and isinstance(data.get("model"), dict) else data
    if not isinstance(state, dict):
        raise UserInputError(f"{path}: expected EHGFormer's {{'model': state_dict}}, found {type(state).__name__}")
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    missing = [k for k in (EMBED_KEY, HEADS_KEY, HYPER_KEY, HIDDEN_KEY) if k not in state]
    if missing:
        raise UserInputError(f"{path}: not an EHGFormer mesh refine checkpoint (no '{missing[0]}'; found "
                             f"{sorted(state)[:6]})")
    return state


def joint_label_set(state, path):
    """'manual1' or 'manual2', told from ``hyper_matrix`` and checked against the stored labels."""
    from HMR.temporal.ehgformer_backbone import JOINT_LABEL_SETS, one_hot_labels, read_joint_labels
    matrix = np.asarray(state[HYPER_KEY])
    for name in JOINT_LABEL_SETS:
        labels = read_joint_labels(name)
        if matrix.shape == one_hot_labels(labels).shape:
            stored = state.get(LABEL_KEY)
            if stored is not None and not np.array_equal(np.asarray(stored).reshape(-1), labels):
                raise UserInputError(f"{path}: '{LABEL_KEY}' {np.asarray(stored).tolist()} is not joint-label set "
                                     f"{name} {labels.tolist()}")
            if not np.array_equal(matrix, one_hot_labels(labels)):
                raise UserInputError(f"{path}: '{HYPER_KEY}' is not the one-hot matrix of joint-label set {name}")
            return name
    raise UserInputError(f"{path}: '{HYPER_KEY}' has shape {matrix.shape}; the joint-label sets have "
                         f"{[one_hot_labels(read_joint_labels(n)).shape for n in JOINT_LABEL_SETS]}")


def architecture(state, path):
    """Config values of the checkpoint's network."""
    dim = int(np.shape(state[EMBED_KEY])[0])
    heads = int(np.shape(state[HEADS_KEY])[0])
    depth = len({k.split(".")[2] for k in state if k.startswith("backbone.STEblocks.")})
    return {"temporal_refiner": "ehgformer", "ehgformer_joint_label": joint_label_set(state, path),
            "ehgformer_dim": dim, "ehgformer_depth": depth, "ehgformer_heads": heads,
            "ehgformer_hidden": int(np.shape(state[HIDDEN_KEY])[0])}


def expected_shapes(values):
    """{our name: shape} of the network ``values`` describe."""
    from HMR.temporal.ehgformer import SMPLRegressor
    from HMR.temporal.ehgformer_backbone import MixSTE2, read_joint_labels
    from src.checkpoints import structural_parameters
    backbone = MixSTE2(read_joint_labels(values["ehgformer_joint_label"]), dim=values["ehgformer_dim"],
                       depth=values["ehgformer_depth"], heads=values["ehgformer_heads"])
    head = SMPLRegressor(None, values["ehgformer_dim"], values["ehgformer_hidden"])
    shapes = {f"backbone.{k}": tuple(p.shape) for k, p in structural_parameters(backbone).items()}
    shapes.update({f"head.{k}": tuple(p.shape) for k, p in structural_parameters(head).items()})
    return shapes


def our_name(key):
    """EHGFormer key -> this project's name, or None when it is skipped."""
    if key.startswith(SKIPPED_PREFIXES) or key.endswith(FIXED_SUFFIXES) or key.endswith(DROPPED_SUFFIXES):
        return None
    if key.startswith(BATCH_NORMS):
        module, _, leaf = key.rpartition(".")
        return f"{module}.{BN_SUFFIXES[leaf]}" if leaf in BN_SUFFIXES else None
    return key


def converted(data, path):
    """({our name: float32 array}, {our name: expected shape}, config values) of an EHGFormer file."""
    state = ehgformer_state(data, path)
    values = architecture(state, path)
    arrays = {}
    for key, value in state.items():
        name = our_name(key)
        if name is None:
            continue
        array = np.asarray(value, np.float32)
        arrays[name] = array[..., None] if key in TIME_CONVS else array
    return arrays, expected_shapes(values), values
