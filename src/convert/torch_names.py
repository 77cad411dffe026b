"""Parameter names: PyTorch (torchvision ResNet-50, SPIN/mmpose head) -> this project.

Backbones use torchvision's names in both projects; only BatchNorm differs
(``weight, bias, running_mean, running_var`` -> ``gamma, beta, moving_mean, moving_variance``;
``num_batches_tracked`` has no counterpart and is dropped). The SPIN head keeps its names
(``fc1``, ``fc2``, ``decpose``, ``decshape``, ``deccam``, buffers ``init_pose``, ``init_shape``,
``init_cam``); it has no ReLU, as here.
"""
import re

BN_SUFFIXES = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}
BN_MODULE = re.compile(r"(^|\.)(bn\d|downsample\.1)$")
DROPPED_SUFFIXES = ("num_batches_tracked",)
HEAD_MODULES = ("fc1", "fc2", "decpose", "decshape", "deccam")
HEAD_BUFFERS = ("init_pose", "init_shape", "init_cam")
RESNET_TOP = ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4")


def backbone_name(key):
    """torchvision ResNet key -> this project's ``encoder.*`` name, or None when it has none."""
    module, _, leaf = key.rpartition(".")
    if leaf in DROPPED_SUFFIXES or key.split(".")[0] not in RESNET_TOP:
        return None
    if BN_MODULE.search(module) and leaf in BN_SUFFIXES:
        leaf = BN_SUFFIXES[leaf]
    return f"encoder.{module}.{leaf}"


def head_name(key):
    """SPIN head key -> ``regressor.*`` name, or None when it is not part of the head."""
    if key in HEAD_BUFFERS:
        return f"regressor.{key}"
    module, _, leaf = key.rpartition(".")
    if module in HEAD_MODULES and leaf in ("weight", "bias"):
        return f"regressor.{key}"
    return None
