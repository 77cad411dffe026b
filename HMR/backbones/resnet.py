"""ResNet encoders in the torchvision parameter layout (``conv1``, ``bn1``, ``layer1.0.conv1``,
``layer1.0.downsample.0`` ...), so torchvision / SPIN / mmpose weights map one to one.

``resnet50`` is HMR's encoder (2048-d feature); ``resnet18``/``resnet34`` and a reduced
``width`` give small encoders for CPU demos and tests. The stem's max-pool is an explicit
zero pad followed by a 'valid' pool: exact after a ReLU (inputs are >= 0), and unlike
``pad_mode='pad'`` it exports to ONNX and to a dynamic-batch MINDIR.
"""
from mindspore import nn, ops
from mindspore.common.initializer import HeNormal

BN_MOMENTUM = 0.9    # MindSpore convention: moving = 0.9 * moving + 0.1 * batch (torch momentum 0.1)
BN_EPS = 1e-5
DEPTHS = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)), 50: ("bottleneck", (3, 4, 6, 3))}


def _conv(in_ch, out_ch, kernel, stride=1):
    return nn.Conv2d(in_ch, out_ch, kernel, stride=stride, pad_mode="pad" if kernel > 1 else "valid",
                     padding=kernel // 2 if kernel > 1 else 0, has_bias=False,
                     weight_init=HeNormal(mode="fan_out", nonlinearity="relu"))


def _bn(channels):
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


def _downsample(in_ch, out_ch, stride):
    """The projection shortcut (``downsample.0`` conv 1x1, ``downsample.1`` BN), or None."""
    if stride == 1 and in_ch == out_ch:
        return None
    return nn.SequentialCell([_conv(in_ch, out_ch, 1, stride), _bn(out_ch)])


class BasicBlock(nn.Cell):
    """Two 3x3 convolutions with a residual (ResNet-18/34)."""
    expansion = 1

    def __init__(self, in_ch, width, stride):
        super().__init__()
        self.conv1, self.bn1 = _conv(in_ch, width, 3, stride), _bn(width)
        self.conv2, self.bn2 = _conv(width, width, 3), _bn(width)
        self.relu = nn.ReLU()
        self.downsample = _downsample(in_ch, width, stride)

    def construct(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class Bottleneck(nn.Cell):
    """1x1 -> 3x3 (strided, as torchvision v1.5) -> 1x1 with a residual (ResNet-50)."""
    expansion = 4

    def __init__(self, in_ch, width, stride):
        super().__init__()
        out_ch = width * self.expansion
        self.conv1, self.bn1 = _conv(in_ch, width, 1), _bn(width)
        self.conv2, self.bn2 = _conv(width, width, 3, stride), _bn(width)
        self.conv3, self.bn3 = _conv(width, out_ch, 1), _bn(out_ch)
        self.relu = nn.ReLU()
        self.downsample = _downsample(in_ch, out_ch, stride)

    def construct(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


class ResNet(nn.Cell):
    """ResNet feature extractor.

    Args:
        depth: 18, 34 or 50.
        width: channels of the first stage (64 in the standard networks).
    Input: images (B, 3, H, W) float32, normalised. Output: (B, feature_dim) after global
    average pooling; ``feature_dim`` is 2048 for ResNet-50 at width 64.
    """

    def __init__(self, depth=50, width=64):
        super().__init__()
        if depth not in DEPTHS:
            raise ValueError(f"backbone depth must be one of {sorted(DEPTHS)}, got {depth}")
        kind, blocks = DEPTHS[depth]
        block = Bottleneck if kind == "bottleneck" else BasicBlock
        self.conv1 = nn.Conv2d(3, width, 7, stride=2, pad_mode="pad", padding=3, has_bias=False,
                               weight_init=HeNormal(mode="fan_out", nonlinearity="relu"))
        self.bn1 = _bn(width)
        self.relu = nn.ReLU()
        self.pad = nn.Pad(paddings=((0, 0), (0, 0), (1, 1), (1, 1)))
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, pad_mode="valid")
        in_ch, stages = width, []
        for index, count in enumerate(blocks):
            stage_width = width * 2 ** index
            layers = []
            for b in range(count):
                layers.append(block(in_ch, stage_width, 2 if (b == 0 and index > 0) else 1))
                in_ch = stage_width * block.expansion
            stages.append(nn.SequentialCell(layers))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.feature_dim, self.early_dim = in_ch, width

    def early(self, x):
        """The stem (conv1, bn1, ReLU, max-pool): (B, 3, H, W) -> (B, width, H / 4, W / 4) (3DCrowdNet's early
        features, ``skip_early=False``); ``early_dim`` = width."""
        return self.maxpool(self.pad(self.relu(self.bn1(self.conv1(x)))))

    def late(self, x):
        """The four stages on early features: (B, width, h, w) -> (B, feature_dim, h / 8, w / 8)."""
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def feature_map(self, x):
        """The last stage's map (B, feature_dim, H / 32, W / 32), before the pooling."""
        return self.late(self.early(x))

    def construct(self, x):
        return ops.mean(self.feature_map(x), (2, 3))


def freeze_batchnorm(cell):
    """Make every BatchNorm in ``cell`` normalise with its running statistics, also in training.

    Its scale and shift stay trainable; the running statistics are no longer updated. The
    usual choice for fine-tuning with small per-device batches, and what makes a
    data-parallel step equal to one step over the combined batch.
    """
    for _, sub in cell.cells_and_names():
        if isinstance(sub, nn.BatchNorm2d):
            sub.use_batch_statistics = False
    return cell
