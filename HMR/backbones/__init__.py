"""Image encoders, chosen by name (``backbone`` in config.yaml): images (B, 3, H, W) -> (B, F).

Every backbone exposes ``feature_dim`` (F). Adding one is a file here plus a line below.
"""
from HMR.registry import Registry

BACKBONES = Registry("backbone", {
    "resnet": "HMR.backbones.resnet:ResNet",
    "hrnet": "HMR.backbones.hrnet:HRNet",
    "pose_hrnet": "HMR.backbones.pose_hrnet:PoseHRNet",
    "vit_b16": "HMR.backbones.vit:vit_b16",
    "vit_l16": "HMR.backbones.vit:vit_l16",
    "vit_h16": "HMR.backbones.vit:vit_h16",
})


def build_backbone(name, **options):
    """The backbone ``name`` (``resnet``: ``depth``, ``width``; ``hrnet``, ``pose_hrnet``: ``width``, 48 for
    HRNet-W48; the ViTs: ``crop``, ``width``, ``depth``, ``heads``, ``patch_padding``, ``drop_path_rate``, ``pooled``,
    see ``HMR/backbones/vit.py``)."""
    return BACKBONES.build(name, **options)
