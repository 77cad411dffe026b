"""Architecture specs: what a model family is, in one registry entry (``architecture`` in config.yaml).

A spec names the family's head for each ``pose_head`` it accepts, its camera, the extra graph inputs
it takes beyond the image, how its encoder sees the crop, the focal length it assumes for an image of
unknown intrinsics and the order of its discriminator's scores. Builders, data sources, export, the
prediction backends and the Ascend 310 runner's input list read these facts; nothing outside this
registry (and the component registries it names) compares an architecture, head or camera name.

Adding a family: a head file in ``HMR/heads`` (and a backbone or camera if it needs new ones) and an
entry here, or ``ARCHITECTURES.register(name, ArchitectureSpec(...))``; a new extra input also needs a
provider in ``src/data/extra_inputs.py``.
"""
from dataclasses import dataclass, field

from HMR.constants import (CROWD30_NAMES, CROWD_FOCAL, CROWD_INPUT_SIZE, HMR2_FOCAL_OVER_CROP, HMR2_VIT_WIDTH_FRACTION,
                           HYBRIK_FOCAL, HYBRIK_INPUT_SIZE)
from HMR.registry import Component, Registry


@dataclass(frozen=True)
class ExtraInput:
    """A graph input beyond the images: ``name`` (the graph's input name and the data provider's, see
    ``src/data/extra_inputs.py``) and ``shape`` per sample."""

    name: str
    shape: tuple


@dataclass(frozen=True)
class ArchitectureSpec:
    """One model family.

    Args:
        heads: ``{pose_head: head registry name}`` - the ``pose_head`` values it accepts and the head each
            one builds (``HMR/heads``).
        camera: camera registry name (``HMR/cameras.py``) and ``camera_options`` its constructor's options.
        inputs: :class:`ExtraInput` s after the images, in graph order.
        encoder_width_fraction: share of a square crop's columns the encoder sees (HMR 2.0: the middle
            three quarters); 1 = the whole crop, any aspect.
        focal_over_image_side: focal length in pixels per pixel of the image's longer side, for an image of
            unknown intrinsics; 0 = the image diagonal (CLIFF's rule).
        focal_over_box_side: when not 0, the camera's focal length in full-image pixels is this many per pixel of
            the crop's side (HybrIK: 1000 / 256); the image demo renders with the largest person's.
        discriminator_order: ``HMR.discriminator.SCORE_ORDERS`` key of the implementation it follows.
        model: how the network is assembled, a ``src.builders.MODEL_BUILDERS`` name: ``hmr`` (backbone ->
            iterative or decoder head -> SMPL, ``HMR/model.py``), ``hybrik`` (heatmaps -> IK, ``HMR/hybrik.py``) or
            ``crowdnet`` (a 2D pose fused between a backbone's halves -> voxels -> graph -> VPoser, ``HMR/crowdnet.py``).
        graph: the exported graph's wrapper, a ``HMR.export_net.GRAPHS`` name (its image input and output names).
    """

    heads: dict
    camera: str = "weak_perspective"
    camera_options: dict = field(default_factory=dict)
    inputs: tuple = ()
    encoder_width_fraction: float = 1.0
    focal_over_image_side: float = 0.0
    focal_over_box_side: float = 0.0
    discriminator_order: str = "tf_hmr"
    model: str = "hmr"
    graph: str = "theta"

    @property
    def input_names(self):
        """Names of the extra graph inputs, in order."""
        return tuple(i.name for i in self.inputs)


ARCHITECTURES = Registry("architecture", {
    # HMR / SPIN: the crop alone, weak perspective; HMR's axis-angle head or SPIN's 6D head
    "hmr": Component(ArchitectureSpec(heads={"axis_angle": "axis_angle", "rot6d": "rot6d"})),
    # CLIFF: the 6D head also reads where the crop lies in the full image; full-frame camera
    "cliff": Component(ArchitectureSpec(heads={"rot6d": "cliff"}, camera="full_frame_crop",
                                        inputs=(ExtraInput("bbox_info", (3,)),))),
    # HMR 2.0: a transformer decoder on a ViT's token map; focal 5000 at 256 px
    "hmr2": Component(ArchitectureSpec(heads={"rot6d": "hmr2"}, camera="crop_perspective",
                                       encoder_width_fraction=HMR2_VIT_WIDTH_FRACTION,
                                       focal_over_image_side=HMR2_FOCAL_OVER_CROP, discriminator_order="4d_humans")),
    # HybrIK: 3D joint heatmaps, twists and shape -> SMPL by inverse kinematics; a pinhole of focal 1000 at the
    # 256 px crop whose principal point is the image centre, so it reads the crop's box and the image centre
    "hybrik": Component(ArchitectureSpec(heads={"twist": "hybrik"}, camera="hybrik", model="hybrik",
                                         graph="hybrik_seed", focal_over_box_side=HYBRIK_FOCAL / HYBRIK_INPUT_SIZE,
                                         inputs=(ExtraInput("bbox", (4,)), ExtraInput("image_center", (2,))))),
    # 3DCrowdNet / HAP: the crop and a 2D pose of the person (30 joints in the 64 x 64 heatmap grid and their
    # validity) -> voxel joints, graph convolution, VPoser's code; a camera of focal 5000 at the 256 px crop
    "crowdnet": Component(ArchitectureSpec(heads={"vposer": "crowdnet"}, camera="crop_perspective",
                                           camera_options={"focal_over_crop": CROWD_FOCAL / CROWD_INPUT_SIZE},
                                           focal_over_image_side=CROWD_FOCAL / CROWD_INPUT_SIZE, model="crowdnet",
                                           graph="crowdnet", inputs=(ExtraInput("joints", (len(CROWD30_NAMES), 2)),
                                                                     ExtraInput("joints_mask", (len(CROWD30_NAMES), 1))))),
})


def architecture_spec(name):
    """The :class:`ArchitectureSpec` of ``name`` (a one-line error listing the known ones otherwise)."""
    return ARCHITECTURES.get(name).target
