"""PyTorch reference of CLIFF's HRNet-W48 encoder (the classification HRNet, ``cls_hrnet``), with
its module names: ``conv1/bn1/conv2/bn2``, ``layer1`` (4 bottlenecks), ``transition1..3``
(``None`` where a branch keeps its width), ``stage2..4`` of ``HighResolutionModule``s
(``branches``, ``fuse_layers`` with ``None`` on the diagonal, nearest ``Upsample``),
``incre_modules``, ``downsamp_modules`` (3x3 stride-2 conv with bias), ``final_layer`` (1x1 conv
with bias to 2048), average pool. Written from the structure in HMR_FACTS / the HRNet paper,
for tests only. ``CliffHRNet`` adds CLIFF's regressor (``tests/reference/torch_cliff.py``).
``PoseHighResolutionNet``/``CliffMetaHRNet``: Meta-HMR's CLIFF-HRNet main network, read from its
``models/hrnet.py`` and ``models/meta_models.py``. ``HybrIKHighResolutionNet``: HybrIK's, read from its
``hybrik/models/layers/hrnet/hrnet.py``."""
import torch
from torch import nn
from torch.nn import functional as F

from tests.reference.torch_cliff import CliffRegressor
from tests.reference.torch_hmr import Bottleneck


def randomise_batch_norm_statistics(module):
    """Running means in [-0.2, 0.2] and variances in [0.5, 2] for every BatchNorm2d of ``module`` (so an
    evaluation-mode comparison exercises them), then evaluation mode. Returns ``module``."""
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, nn.BatchNorm2d):
                layer.running_mean.uniform_(-0.2, 0.2)
                layer.running_var.uniform_(0.5, 2.0)
    return module.eval()


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual (HRNet's branches keep their width: no projection)."""
    expansion = 1

    def __init__(self, in_ch, width, stride=1):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(in_ch, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = nn.Conv2d(width, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width)
        self.relu = nn.ReLU()

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + x)


def _conv_bn(cin, cout, kernel, stride, relu=True, bias=False):
    layers = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=bias), nn.BatchNorm2d(cout)]
    return nn.Sequential(*(layers + [nn.ReLU()] if relu else layers))


def _layer(block, cin, planes, count):
    """``count`` blocks (torch_hmr's Bottleneck adds the ``downsample`` projection when widths differ)."""
    blocks = [block(cin, planes, 1)] + [block(planes * block.expansion, planes, 1) for _ in range(count - 1)]
    return nn.Sequential(*blocks)


class HighResolutionModule(nn.Module):
    def __init__(self, widths):
        super().__init__()
        self.branches = nn.ModuleList([_layer(BasicBlock, w, w, 4) for w in widths])
        rows = []
        for i, wi in enumerate(widths):
            row = []
            for j, wj in enumerate(widths):
                if j > i:
                    row.append(nn.Sequential(nn.Conv2d(wj, wi, 1, 1, 0, bias=False), nn.BatchNorm2d(wi),
                                             nn.Upsample(scale_factor=2 ** (j - i), mode="nearest")))
                elif j == i:
                    row.append(None)
                else:
                    steps = [_conv_bn(wj, wj, 3, 2) for _ in range(i - j - 1)]
                    row.append(nn.Sequential(*steps, _conv_bn(wj, wi, 3, 2, relu=False)))
            rows.append(nn.ModuleList(row))
        self.fuse_layers = nn.ModuleList(rows)

    def forward(self, x):
        x = [branch(v) for branch, v in zip(self.branches, x)]
        out = []
        for i, row in enumerate(self.fuse_layers):
            y = x[0] if i == 0 else row[0](x[0])
            for j in range(1, len(x)):
                y = y + (x[j] if i == j else row[j](x[j]))
            out.append(F.relu(y))
        return out


class _Trunk(nn.Module):
    """Stem, stage 1, transitions and stages 2-4: the part both HRNets share, with their names."""

    def __init__(self, width):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 64, 3, 2, 1, bias=False), nn.BatchNorm2d(64)
        self.conv2, self.bn2 = nn.Conv2d(64, 64, 3, 2, 1, bias=False), nn.BatchNorm2d(64)
        self.layer1 = _layer(Bottleneck, 64, 64, 4)
        previous = [256]
        for stage, modules in ((2, 1), (3, 4), (4, 3)):
            widths = [width * 2 ** k for k in range(stage)]
            transition = []
            for i, w in enumerate(widths):
                if i < len(previous):
                    transition.append(_conv_bn(previous[i], w, 3, 1) if previous[i] != w else None)
                else:
                    transition.append(nn.Sequential(_conv_bn(previous[-1], w, 3, 2)))
            setattr(self, f"transition{stage - 1}", nn.ModuleList(transition))
            setattr(self, f"stage{stage}", nn.Sequential(*[HighResolutionModule(widths) for _ in range(modules)]))
            previous = widths
        self.widths = previous

    def stages(self, x):
        x = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))
        y = [self.layer1(x)]
        for stage in (2, 3, 4):
            transition = getattr(self, f"transition{stage - 1}")
            inputs = [t(y[-1] if i >= len(y) else y[i]) if t is not None else y[i] for i, t in enumerate(transition)]
            y = getattr(self, f"stage{stage}")(inputs)
        return y


class HighResolutionNet(_Trunk):
    def __init__(self, width=48):
        super().__init__(width)
        head = [32, 64, 128, 256]
        self.incre_modules = nn.ModuleList([_layer(Bottleneck, c, h, 1) for c, h in zip(self.widths, head)])
        self.downsamp_modules = nn.ModuleList([_conv_bn(head[k] * 4, head[k + 1] * 4, 3, 2, bias=True)
                                               for k in range(3)])
        self.final_layer = _conv_bn(1024, 2048, 1, 1, bias=True)

    def forward(self, x):
        y = self.stages(x)
        out = self.incre_modules[0](y[0])
        for k, down in enumerate(self.downsamp_modules):
            out = self.incre_modules[k + 1](y[k + 1]) + down(out)
        out = self.final_layer(out)
        return F.avg_pool2d(out, kernel_size=out.shape[2:]).flatten(1)


class PoseHighResolutionNet(_Trunk):
    """Meta-HMR's ``models/hrnet.py`` pose HRNet built with ``downsample=True, use_conv=True``:
    ``final_layer`` (1x1 conv to 24 heatmaps, with bias) exists but the forward skips it;
    ``downsample_stage_1/2/3`` = 3/2/1 x [3x3 stride-2 conv (no bias), BN, ReLU] on branches 0/1/2
    (widths kept), concatenated with branch 3 (15 w channels, unpooled)."""

    def __init__(self, width=48, num_joints=24):
        super().__init__(width)
        self.final_layer = nn.Conv2d(width, num_joints, 1, 1, 0)
        for k, steps in enumerate((3, 2, 1)):
            layers = []
            for _ in range(steps):
                layers += [nn.Conv2d(self.widths[k], self.widths[k], 3, 2, 1, bias=False),
                           nn.BatchNorm2d(self.widths[k]), nn.ReLU()]
            setattr(self, f"downsample_stage_{k + 1}", nn.Sequential(*layers))

    def forward(self, x):
        y = self.stages(x)
        return torch.cat([self.downsample_stage_1(y[0]), self.downsample_stage_2(y[1]),
                          self.downsample_stage_3(y[2]), y[3]], 1)


class CliffHRNet(CliffRegressor):
    """CLIFF HRNet-W48: ``encoder`` (the HRNet above) + CLIFF's regressor on its 2048-d features
    (Meta-HMR's ``CliffAuxNet_hrnet`` has the same names)."""

    def __init__(self, init_pose, init_shape, init_cam, width=48):
        super().__init__(init_pose, init_shape, init_cam, feature_dim=2048)
        self.encoder = HighResolutionNet(width)

    def forward(self, images, bbox_info, n_iter=3):
        return CliffRegressor.forward(self, self.encoder(images), bbox_info, n_iter)


class CliffMetaHRNet(CliffRegressor):
    """Meta-HMR's ``CliffMetaNet_hrnet``: ``backbone`` (the pose HRNet), adaptive average pool to
    15 w features, CLIFF's regressor (fc1 input 720 + 3 + 157 = 880 for W48)."""

    def __init__(self, init_pose, init_shape, init_cam, width=48):
        super().__init__(init_pose, init_shape, init_cam, feature_dim=15 * width)
        self.backbone = PoseHighResolutionNet(width)

    def forward(self, images, bbox_info, n_iter=10):
        features = F.adaptive_avg_pool2d(self.backbone(images), 1).flatten(1)
        return CliffRegressor.forward(self, features, bbox_info, n_iter)


class HybrIKHighResolutionNet(_Trunk):
    """HybrIK's ``hybrik/models/layers/hrnet/hrnet.py`` with ``generate_feat`` and ``generate_hm``: the
    classification head (its final convolution named ``final_feat_layer``) and ``final_layer``, a 1x1
    convolution with bias from the highest-resolution branch to joints x depth heatmap channels.
    forward -> (heatmap logits, pooled 2048-d feature)."""

    def __init__(self, width=48, num_joints=29, depth_dim=64):
        super().__init__(width)
        head = [32, 64, 128, 256]
        self.incre_modules = nn.ModuleList([_layer(Bottleneck, c, h, 1) for c, h in zip(self.widths, head)])
        self.downsamp_modules = nn.ModuleList([_conv_bn(head[k] * 4, head[k + 1] * 4, 3, 2, bias=True)
                                               for k in range(3)])
        self.final_feat_layer = _conv_bn(1024, 2048, 1, 1, bias=True)
        self.final_layer = nn.Conv2d(width, num_joints * depth_dim, 1, 1, 0)

    def forward(self, x):
        y = self.stages(x)
        heatmaps = self.final_layer(y[0])
        out = self.incre_modules[0](y[0])
        for k, down in enumerate(self.downsamp_modules):
            out = self.incre_modules[k + 1](y[k + 1]) + down(out)
        out = self.final_feat_layer(out)
        return heatmaps, F.avg_pool2d(out, kernel_size=out.shape[2:]).flatten(1)
