"""HRNet-W48 as HybrIK uses it (``hybrik/models/layers/hrnet/hrnet.py`` with ``w48.yaml``,
``generate_feat=True, generate_hm=True``): the trunk both HRNets here share
(:class:`HMR.backbones.hrnet.HRNetTrunk`), the classification head on its four branches
(``incre_modules``, ``downsamp_modules``, ``final_feat_layer``: the 2048-d pooled feature) and a 1x1
convolution with bias on the highest-resolution branch (``final_layer``) to ``num_joints x depth``
heatmap channels. Parameter names are HybrIK's, under its model's ``preact``.
"""
from mindspore import nn
from mindspore.common.initializer import Normal

from HMR.backbones.hrnet import FEATURE_DIM, HRNetTrunk, classification_head, classify

HEATMAP_INIT_STD = 0.001      # HybrIK's (pose HRNet's) init of the heatmap convolution; bias 0


class HybrIKHRNet(HRNetTrunk):
    """Args: width (48 for HRNet-W48), num_joints (29), depth_dim (64).
    Input: images (B, 3, H, W), H and W multiples of 32 (HybrIK: 256 x 256).
    Output: heatmap logits (B, num_joints * depth_dim, H / 4, W / 4), pooled features (B, 2048).
    """

    def __init__(self, width=48, num_joints=29, depth_dim=64):
        super().__init__(width)
        self.feature_dim = FEATURE_DIM
        self.incre_modules, self.downsamp_modules, self.final_feat_layer = classification_head(
            self.branch_widths(4))
        self.final_layer = nn.Conv2d(width, num_joints * depth_dim, 1, has_bias=True, pad_mode="valid",
                                     weight_init=Normal(HEATMAP_INIT_STD), bias_init="zeros")

    def construct(self, x):
        branches = self.branches(x)
        return (self.final_layer(branches[0]),
                classify(branches, self.incre_modules, self.downsamp_modules, self.final_feat_layer))
