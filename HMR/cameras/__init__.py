"""Cameras, chosen by the architecture spec (``HMR/architectures.py``): 3D keypoints -> normalised crop
coordinates (``HMR/cameras/projections.py``). Adding one is a Cell there plus an entry below, or
``CAMERAS.register(...)``.
"""
from HMR.registry import Registry

CAMERAS = Registry("camera", {
    "weak_perspective": "HMR.cameras.projections:WeakPerspective",     # HMR, SPIN
    "full_frame_crop": "HMR.cameras.projections:FullFrameCrop",        # CLIFF (reads bbox_info)
    "crop_perspective": "HMR.cameras.projections:CropPerspective",     # HMR 2.0 (focal 5000 at 256 px)
    "hybrik": "HMR.cameras.hybrik_camera:HybrIKCamera",                # HybrIK (reads bbox, image_center)
})


def build_camera(name, **options):
    """The camera ``name`` constructed with ``options``."""
    return CAMERAS.build(name, **options)
