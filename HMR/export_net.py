"""The graphs that are exported for deployment, by the architecture spec's ``graph`` (``GRAPHS``): images (and
the architecture's extra inputs) in, named results out. Each entry's facts name the graph's image input, its
outputs in order, and the decoder (a Cell built from the SMPL layer: the graph's outputs and its extra inputs
-> ``MODEL_OUTPUTS``) that jobs running the exported graph need when its outputs are not ``GRAPH_OUTPUTS``."""
from mindspore import nn, ops

from HMR.outputs import BETAS, CAM, GRAPH_OUTPUTS, HYBRIK_SEED_OUTPUTS, JOINTS3D, KEYPOINTS2D, POSE, VERTICES
from HMR.crowdnet import CROWDNET_OUTPUTS, CrowdNetGraphDecoder
from HMR.graph_call import call
from HMR.hybrik import HybrIKGraphDecoder
from HMR.registry import Component, Registry


class ExportNet(nn.Cell):
    """Wraps :class:`HMR.model.HMR` (or any model returning ``MODEL_OUTPUTS``) for inference graphs (no dropout).

    Input: images (B, 3, H, W) normalised RGB, then the architecture's extra inputs (CLIFF: bbox_info
    (B, 3)).
    Output: theta (B, 85) = ``[cam 3 | pose 72 axis-angle | betas 10]`` (``HMR.outputs``), vertices
    (B, 6890, 3) metres, joints3d (B, K, 3) metres, keypoints2d (B, K, 2) normalised crop
    coordinates.
    """

    def __init__(self, model):
        super().__init__()
        self.model = model

    def construct(self, images, *extra):
        outputs = call(self.model, (images, None, *extra))
        theta = ops.concat([outputs[CAM], outputs[POSE], outputs[BETAS]], 1)
        return theta, outputs[VERTICES], outputs[JOINTS3D], outputs[KEYPOINTS2D]


class HybrIKExportNet(nn.Cell):
    """HybrIK with the interface of the seed system's runner (EHGFormer's ``HybrIKEstimatorSinglePersonOnnx``):
    input_image (B, 3, 256, 256) the normalised crop, bbox (B, 4) the crop's square xyxy box, image_center
    (B, 2) -> the twelve outputs of ``HMR.outputs.HYBRIK_SEED_OUTPUTS``, HybrIK's names, shapes and units."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def construct(self, input_image, bbox, image_center):
        return self.model.predict(input_image, bbox, image_center)[:len(HYBRIK_SEED_OUTPUTS)]


class CrowdNetExportNet(nn.Cell):
    """3DCrowdNet / HAP with the original's input names (``inputs['img']``, ``['joints']``, ``['joints_mask']``):
    img (B, 3, 256, 256) in [0, 1], joints (B, 30, 2) in the 64 x 64 grid, joints_mask (B, 30, 1) -> its test
    outputs ``HMR.crowdnet.CROWDNET_OUTPUTS``."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def construct(self, img, joints, joints_mask):
        return self.model.predict(img, joints, joints_mask)


GRAPHS = Registry("graph", {
    "theta": Component(ExportNet, {}, {"image_input": "images", "outputs": GRAPH_OUTPUTS, "decoder": None}),
    "hybrik_seed": Component(HybrIKExportNet, {}, {"image_input": "input_image", "outputs": HYBRIK_SEED_OUTPUTS,
                                                   "decoder": HybrIKGraphDecoder}),
    "crowdnet": Component(CrowdNetExportNet, {}, {"image_input": "img", "outputs": CROWDNET_OUTPUTS,
                                                  "decoder": CrowdNetGraphDecoder}),
})


def export_net(model, graph="theta"):
    """The export wrapper ``graph`` (``GRAPHS``) of ``model``."""
    return GRAPHS.build(graph, model)
