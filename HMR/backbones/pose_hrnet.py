"""HRNet-W48 as Meta-HMR's CLIFF-HRNet main network uses it: the pose-estimation HRNet (Sun et al.
2019, ``pose_hrnet_w48_256x192``; Meta-HMR ``models/hrnet.py`` with ``downsample=True,
use_conv=True``), whose four branches are brought to the lowest resolution and concatenated.

The trunk is the one CLIFF's classification HRNet has (:class:`HMR.backbones.hrnet.HRNetTrunk`,
same names). Then ``downsample_stage_1`` (3), ``downsample_stage_2`` (2) and
``downsample_stage_3`` (1) strided 3x3 convolution + BN + ReLU steps take branches 0-2 to the
resolution of branch 3, keeping their widths; the concatenation (w + 2w + 4w + 8w = 15 w
channels, 720 for W48) is averaged over the map. The keypoint heatmap layer of the pose network
(``final_layer``, 1x1 to 24 channels) is not used by Meta-HMR's forward and is not built here.
"""
from mindspore import nn, ops

from HMR.backbones.hrnet import HRNetTrunk, conv_bn

DOWNSAMPLED_BRANCHES = 3          # branches 0, 1, 2 are downsampled 3, 2, 1 times to branch 3's resolution


class PoseHRNet(HRNetTrunk):
    """The pose-estimation HRNet encoder.

    Args:
        width: channels of the highest-resolution branch (48 = HRNet-W48, 32 = W32).
        depth: unused; accepted so every backbone builds from the same config keys.
    Input: images (B, 3, H, W) float32, normalised, H and W multiples of 32 (Meta-HMR: 256 x 192).
    Output: (B, 15 width) pooled features (``feature_dim``; 720 for W48).
    """

    def __init__(self, width=48, depth=None):
        super().__init__(width)
        del depth
        widths = self.branch_widths(4)
        self.feature_dim = sum(widths)
        for k in range(DOWNSAMPLED_BRANCHES):
            steps = DOWNSAMPLED_BRANCHES - k
            cells = [cell for _ in range(steps) for cell in conv_bn(widths[k], widths[k], 3, 2)]
            setattr(self, f"downsample_stage_{k + 1}", nn.SequentialCell(cells))

    def construct(self, x):
        b = self.branches(x)
        y = ops.concat((self.downsample_stage_1(b[0]), self.downsample_stage_2(b[1]),
                        self.downsample_stage_3(b[2]), b[3]), 1)
        return ops.mean(y, (2, 3))
