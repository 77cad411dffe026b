"""Image encoders, chosen by name (``backbone`` in config.yaml): images (B, 3, H, W) -> (B, F).

Every backbone exposes ``feature_dim`` (F). Its registry entry says which config keys its
constructor reads and the facts the builders need: ``crop_multiple`` (the crop's sides must be
multiples of it), ``takes_crop`` (the constructor takes the encoder's crop (H, W)), ``token_map``
(it can return its token map (B, C, rows, columns) instead of pooled features: constructor option
``pooled``), ``volumes`` (HybrIK's: it returns 3D heatmap logits and pooled features), ``splits`` (it has ``early(x)`` and
``late(features)``, the two halves 3DCrowdNet feeds the 2D pose between; ``early_dim`` channels in between). Adding one is a file here plus an entry below, or ``BACKBONES.register(...)``.
"""
from HMR.registry import Component, Registry

_RESNET_OPTIONS = {"depth": "backbone_depth", "width": "backbone_width"}
_VIT_OPTIONS = {"width": "vit_width", "depth": "vit_depth", "heads": "vit_heads", "patch_padding": "vit_patch_padding",
                "drop_path_rate": "drop_path_rate"}
_HRNET_STRIDE = 32      # HRNet's lowest-resolution branch: the crop must divide into it exactly
_VIT = dict(takes_crop=True, token_map=True, splits=True)

BACKBONES = Registry("backbone", {
    "resnet": Component("HMR.backbones.resnet:ResNet", _RESNET_OPTIONS, {"splits": True}),
    "hrnet": Component("HMR.backbones.hrnet:HRNet", _RESNET_OPTIONS, {"crop_multiple": _HRNET_STRIDE}),
    "pose_hrnet": Component("HMR.backbones.pose_hrnet:PoseHRNet", _RESNET_OPTIONS, {"crop_multiple": _HRNET_STRIDE}),
    # HybrIK's: 3D heatmap logits and a pooled feature; the facts size its heads (hidden fc1/fc2 width, camera
    # numbers) and say whether its model re-fits the camera scale in evaluation
    "hybrik_hrnet": Component("HMR.backbones.hybrik_hrnet:HybrIKHRNet", {"width": "backbone_width"},
                              {"crop_multiple": _HRNET_STRIDE, "volumes": True, "head_hidden": 0, "camera_numbers": 1,
                               "refit_scale": True}),
    "hybrik_resnet": Component("HMR.backbones.hybrik_resnet:HybrIKResNet", _RESNET_OPTIONS,
                               {"crop_multiple": 32, "volumes": True, "head_hidden": 1024, "camera_numbers": 3,
                                "refit_scale": False}),
    "vit_b16": Component("HMR.backbones.vit:vit_b16", _VIT_OPTIONS, _VIT),
    "vit_l16": Component("HMR.backbones.vit:vit_l16", _VIT_OPTIONS, _VIT),
    "vit_h16": Component("HMR.backbones.vit:vit_h16", _VIT_OPTIONS, _VIT),
})


def build_backbone(name, **options):
    """The backbone ``name`` (``resnet``: ``depth``, ``width``; ``hrnet``, ``pose_hrnet``: ``width``, 48 for
    HRNet-W48; the ViTs: ``crop``, ``width``, ``depth``, ``heads``, ``patch_padding``, ``drop_path_rate``, ``pooled``,
    see ``HMR/backbones/vit.py``)."""
    return BACKBONES.build(name, **options)
