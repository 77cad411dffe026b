"""A HybrIK release for the tests: the PyTorch mirror (``torch_hybrik_model.py``) of either model in a small width,
random weights made to behave like trained ones, and the photographs it is run on."""
import numpy as np

# the heatmap layer's weights: volumes whose peak holds ~0.3-0.7 of the probability (a sharper one, near one-hot,
# moves its expectation by whole voxels on float32 rounding, in either framework)
HEATMAP_WEIGHT_STD = {"hrnet": 0.15, "resnet": 1.0}
# numerical comparisons on small networks of the releases' layouts (HRNet width 16, ResNet-18 width 16); the
# full-size releases' key and shape lists convert in test_full_size_releases_convert_key_for_key
SMALL = {"hrnet": {"width": 16}, "resnet": {"layers": (2, 2, 2, 2), "width": 16}}


def photo_inputs():
    """Three photographs (scikit-image's astronaut, cat and coffee cup) as normalised 256 x 256 crops, with
    square boxes in frames of different sizes (one box off-centre to the left)."""
    import cv2
    import skimage.data
    photos = [skimage.data.astronaut(), skimage.data.chelsea(), skimage.data.coffee()]
    crops = np.stack([cv2.resize(p, (256, 256), interpolation=cv2.INTER_AREA) for p in photos]).astype(np.float32)
    images = ((crops / 255.0 - 0.45) / 0.225).transpose(0, 3, 1, 2).copy()
    boxes = np.array([[120, 40, 420, 340], [10, 200, 210, 400], [300, 100, 556, 356]], np.float32)
    centres = np.array([[320, 240], [400, 300], [480, 270]], np.float32)
    return images, boxes, centres


def reference_model(kind, init_shape):
    """The PyTorch model with random weights made to behave like a trained one on these inputs: BatchNorm
    statistics measured on them and then perturbed (random statistics leave the deep maps spatially flat), the
    heatmap layer strong enough that each joint's volume peaks somewhere of its own, with a bias keeping its
    depth within a few bins of the root's (HybrIK's init N(0, 0.001) puts every joint at the crop centre,
    where the IK has no bones), sigmas small enough that ``update_scale`` weighs joints."""
    import torch
    from tests.reference.torch_hybrik_model import HRNetSMPLCam, Simple3DPoseBaseSMPLCam
    torch.manual_seed(0)
    model = (HRNetSMPLCam if kind == "hrnet" else Simple3DPoseBaseSMPLCam)(init_shape, **SMALL[kind])
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for norm in norms:
        norm.momentum = None                      # running statistics = the batch's
    model.train()
    with torch.no_grad():
        images = torch.tensor(photo_inputs()[0])
        model.preact(images) if kind == "hrnet" else model.deconv_layers(model.preact(images))
        for norm in norms:
            norm.running_mean.add_(0.1 * norm.running_var.sqrt() * torch.randn_like(norm.running_mean))
            norm.running_var.mul_(torch.empty_like(norm.running_var).uniform_(0.8, 1.25))
        final = model.preact.final_layer if kind == "hrnet" else model.final_layer
        final.weight.normal_(0, HEATMAP_WEIGHT_STD[kind])
        depth = torch.arange(64, dtype=torch.float32)
        centres = 32 + torch.randint(-3, 4, (29, 1)).float()
        final.bias.copy_((-0.5 * ((depth - centres) / 2.0) ** 2).reshape(-1))
        model.decsigma.bias.fill_(-3.0)
        model.decsigma.weight.mul_(0.1)
        model.deccam.weight.mul_(0.1)
    return model.eval()
