"""HybrIK's ResNet model's image part (``Simple3DPoseBaseSMPLCam``, ``hybrik/models/simple3dposeSMPLWithCam.py``):
a torchvision-layout ResNet (``preact``, 34 layers in the released model), three 4x4 stride-2 transposed
convolutions without bias, each with BatchNorm and ReLU (``deconv_layers``, 256 channels), and a 1x1
convolution with bias to ``num_joints x depth`` heatmap channels (``final_layer``). The pooled last-stage
map is the regression heads' feature. Parameter names are HybrIK's.
"""
from mindspore import nn, ops
from mindspore.common.initializer import Normal

from HMR.backbones.resnet import BN_EPS, BN_MOMENTUM, ResNet

DECONV_WIDTH = 256          # NUM_DECONV_FILTERS [256, 256, 256]
DECONV_KERNEL = 4
HEATMAP_INIT_STD = 0.001    # HybrIK's _initialize: the transposed and final convolutions ~ N(0, 0.001)


def _deconv(in_ch, out_ch):
    """Doubles the side: (H - 1) * 2 - 2 * 1 + 4 = 2H, as ``ConvTranspose2d(k=4, s=2, padding=1)``."""
    return [nn.Conv2dTranspose(in_ch, out_ch, DECONV_KERNEL, stride=2, pad_mode="pad", padding=1, has_bias=False,
                               weight_init=Normal(HEATMAP_INIT_STD)),
            nn.BatchNorm2d(out_ch, eps=BN_EPS, momentum=BN_MOMENTUM), nn.ReLU()]


class HybrIKResNet(nn.Cell):
    """Args: depth (34), width (64: the first stage's channels), num_joints (29), depth_dim (64),
    deconv_width (256).
    Input: images (B, 3, H, W), H and W multiples of 32 (HybrIK: 256 x 256).
    Output: heatmap logits (B, num_joints * depth_dim, H / 4, W / 4), pooled features (B, 512 at width 64).
    """

    def __init__(self, depth=34, width=64, num_joints=29, depth_dim=64, deconv_width=DECONV_WIDTH):
        super().__init__()
        self.preact = ResNet(depth, width)
        self.feature_dim = self.preact.feature_dim
        self.deconv_layers = nn.SequentialCell(_deconv(self.feature_dim, deconv_width)
                                               + _deconv(deconv_width, deconv_width)
                                               + _deconv(deconv_width, deconv_width))
        self.final_layer = nn.Conv2d(deconv_width, num_joints * depth_dim, 1, has_bias=True, pad_mode="valid",
                                     weight_init=Normal(HEATMAP_INIT_STD), bias_init="zeros")

    def construct(self, x):
        features = self.preact.feature_map(x)
        return self.final_layer(self.deconv_layers(features)), ops.mean(features, (2, 3))
