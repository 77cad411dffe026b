"""HRNet-W48 as CLIFF uses it: the classification HRNet (Wang et al.; ``cls_hrnet``) up to its
2048-d pooled feature, in the parameter layout of CLIFF's checkpoints (``conv1``, ``layer1``,
``transition1``, ``stage2.0.branches.0.0.conv1``, ``stage2.0.fuse_layers.0.1.0``,
``incre_modules``, ``downsamp_modules``, ``final_layer``), so they map one to one.

Stem: two 3x3 stride-2 convolutions (64). Stage 1: 4 bottlenecks (256). Stages 2-4: 1, 4 and 3
multi-resolution modules of 4 basic blocks per branch, widths [w, 2w], [w, 2w, 4w],
[w, 2w, 4w, 8w] (w = 48), each module ending in a fusion where every branch receives every
other one (1x1 convolution + nearest upsampling from lower resolutions, strided 3x3
convolutions from higher ones) and a ReLU. Head: a bottleneck per branch to 128/256/512/1024
channels, strided 3x3 convolutions (with bias) summing from high to low resolution, a 1x1
convolution (with bias) to 2048 + BN + ReLU, global average pooling. Why not mindcv's
``hrnet_w48``: its head convolutions have no bias, so CLIFF's weights do not map onto it.
"""
from mindspore import nn, ops
from mindspore.common.initializer import HeNormal

from HMR.backbones.resnet import BN_EPS, BN_MOMENTUM, BasicBlock, Bottleneck

STAGE_MODULES = (1, 4, 3)            # multi-resolution modules of stages 2, 3, 4
BLOCKS_PER_BRANCH = 4
STEM_WIDTH = 64
STAGE1_BLOCKS = 4
HEAD_WIDTHS = (32, 64, 128, 256)     # bottleneck widths of the head (x4 channels out)
FEATURE_DIM = 2048


def _conv(in_ch, out_ch, kernel, stride=1, bias=False):
    return nn.Conv2d(in_ch, out_ch, kernel, stride=stride, pad_mode="pad" if kernel > 1 else "valid",
                     padding=kernel // 2 if kernel > 1 else 0, has_bias=bias,
                     weight_init=HeNormal(mode="fan_out", nonlinearity="relu"))


def _bn(channels):
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


def conv_bn(in_ch, out_ch, kernel, stride=1, relu=True, bias=False):
    """Convolution + BatchNorm (+ ReLU): one ``nn.SequentialCell`` indexed 0, 1 (, 2) as in HRNet's code."""
    cells = [_conv(in_ch, out_ch, kernel, stride, bias), _bn(out_ch)]
    return nn.SequentialCell(cells + [nn.ReLU()] if relu else cells)


def _blocks(block, in_ch, width, count):
    """``count`` blocks; the first projects ``in_ch`` to ``width x expansion`` when they differ."""
    cells = [block(in_ch, width, 1)] + [block(width * block.expansion, width, 1) for _ in range(count - 1)]
    return nn.SequentialCell(cells)


class _Upsample(nn.Cell):
    """Nearest-neighbour upsampling by an integer factor (each pixel repeated factor x factor times)."""

    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def construct(self, x):
        return ops.repeat_interleave(ops.repeat_interleave(x, self.factor, 2), self.factor, 3)


class _Empty(nn.Cell):
    """Holds the place of a missing layer (CLIFF's ``None``) so that the indices of the others match."""

    def construct(self, x):
        return x


class HRModule(nn.Cell):
    """One multi-resolution module: ``branches`` of basic blocks, then ``fuse_layers``.

    Input/output: a tuple of (B, C_i, H / 2^i, W / 2^i) maps, one per branch.
    """

    def __init__(self, widths):
        super().__init__()
        self.num_branches = len(widths)
        self.branches = nn.CellList([_blocks(BasicBlock, w, w, BLOCKS_PER_BRANCH) for w in widths])
        fuse = []
        for i, out_w in enumerate(widths):
            row = []
            for j, in_w in enumerate(widths):
                if j > i:
                    row.append(nn.SequentialCell([_conv(in_w, out_w, 1), _bn(out_w), _Upsample(2 ** (j - i))]))
                elif j == i:
                    row.append(_Empty())
                else:        # i - j strided 3x3 convolutions; ReLU after all but the last
                    steps = [conv_bn(in_w, in_w, 3, 2) for _ in range(i - j - 1)]
                    row.append(nn.SequentialCell(steps + [conv_bn(in_w, out_w, 3, 2, relu=False)]))
            fuse.append(nn.CellList(row))
        self.fuse_layers = nn.CellList(fuse)
        self.relu = nn.ReLU()

    def construct(self, x):
        x = [self.branches[k](x[k]) for k in range(self.num_branches)]
        out = []
        for i in range(self.num_branches):          # summed in CLIFF's order
            y = x[0] if i == 0 else self.fuse_layers[i][0](x[0])
            for j in range(1, self.num_branches):
                y = y + (x[j] if j == i else self.fuse_layers[i][j](x[j]))
            out.append(self.relu(y))
        return out


class HRNetTrunk(nn.Cell):
    """The part both HRNets share (stem, stage 1, transitions, stages 2-4), in HRNet's names.

    Args:
        width: channels of the highest-resolution branch (48 for HRNet-W48).
    ``branches(x)``: images (B, 3, H, W) -> four maps (B, w 2^k, H / 2^(k+2), W / 2^(k+2)), k = 0..3.
    """

    def __init__(self, width):
        super().__init__()
        self.width = width
        self.conv1, self.bn1 = _conv(3, STEM_WIDTH, 3, 2), _bn(STEM_WIDTH)
        self.conv2, self.bn2 = _conv(STEM_WIDTH, STEM_WIDTH, 3, 2), _bn(STEM_WIDTH)
        self.relu = nn.ReLU()
        self.layer1 = _blocks(Bottleneck, STEM_WIDTH, STEM_WIDTH, STAGE1_BLOCKS)
        previous = [STEM_WIDTH * Bottleneck.expansion]
        for stage, modules in enumerate(STAGE_MODULES, start=2):
            widths = self.branch_widths(stage)
            setattr(self, f"transition{stage - 1}", self._transition(previous, widths))
            setattr(self, f"stage{stage}", nn.SequentialCell([HRModule(widths) for _ in range(modules)]))
            previous = widths

    def branch_widths(self, stage):
        """Channels of each branch of stage ``stage`` (2-4): w, 2w, ..."""
        return [self.width * 2 ** k for k in range(stage)]

    @staticmethod
    def _transition(previous, widths):
        """Into a stage: existing branches change width by a 3x3 convolution when needed, the new
        branch comes from the lowest-resolution one by a strided 3x3 convolution."""
        cells = []
        for i, w in enumerate(widths):
            if i < len(previous):
                cells.append(conv_bn(previous[i], w, 3) if previous[i] != w else _Empty())
            else:
                cells.append(nn.SequentialCell([conv_bn(previous[-1], w, 3, 2)]))
        return nn.CellList(cells)

    def _enter(self, transition, inputs, count):
        """Branch inputs of a stage: new branches start from the previous stage's last output."""
        return [transition[i](inputs[i] if i < len(inputs) else inputs[-1]) for i in range(count)]

    def branches(self, x):
        x = self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))))
        branches = [self.layer1(x)]
        branches = self.stage2(self._enter(self.transition1, branches, 2))
        branches = self.stage3(self._enter(self.transition2, branches, 3))
        return self.stage4(self._enter(self.transition3, branches, 4))


class HRNet(HRNetTrunk):
    """CLIFF's HRNet encoder.

    Args:
        width: channels of the highest-resolution branch (48 for HRNet-W48; smaller values
            give small encoders for tests).
        depth: unused (the stage layout is fixed); accepted so every backbone builds from the
            same config keys.
    Input: images (B, 3, H, W) float32, normalised, H and W multiples of 32.
    Output: (B, 2048) pooled features (``feature_dim``).
    """

    def __init__(self, width=48, depth=None):
        super().__init__(width)
        del depth
        self.feature_dim = FEATURE_DIM
        self.incre_modules, self.downsamp_modules, self.final_layer = classification_head(self.branch_widths(4))

    def construct(self, x):
        return classify(self.branches(x), self.incre_modules, self.downsamp_modules, self.final_layer)


def classification_head(widths):
    """The classification HRNet's head on branches of ``widths``: (incre_modules, downsamp_modules, the
    final 1x1 convolution to ``FEATURE_DIM`` + BN + ReLU)."""
    incre = nn.CellList([_blocks(Bottleneck, w, h, 1) for w, h in zip(widths, HEAD_WIDTHS)])
    downsamp = nn.CellList([
        conv_bn(HEAD_WIDTHS[k] * Bottleneck.expansion, HEAD_WIDTHS[k + 1] * Bottleneck.expansion, 3, 2, bias=True)
        for k in range(len(HEAD_WIDTHS) - 1)])
    return incre, downsamp, conv_bn(HEAD_WIDTHS[-1] * Bottleneck.expansion, FEATURE_DIM, 1, bias=True)


def classify(branches, incre_modules, downsamp_modules, final):
    """Four branch maps -> the pooled (B, ``FEATURE_DIM``) feature: each branch widened, summed from high
    to low resolution through the strided convolutions, the final convolution, the mean over the map."""
    y = incre_modules[0](branches[0])
    for k in range(len(downsamp_modules)):
        y = incre_modules[k + 1](branches[k + 1]) + downsamp_modules[k](y)
    return ops.mean(final(y), (2, 3))
