"""Integral regression of 3D joint heatmaps (Sun et al. 2018) as HybrIK reads its volumes
(``hybrik/models/HRNetWithCam.py``: ``norm_heatmap('softmax')`` and the marginals that follow).

Each joint's (D, H, W) volume is normalised by one softmax over all its voxels; the expected voxel
index along each axis, from the volume's marginals, divided by the axis length and less 0.5, gives
(u, v, d) in [-0.5, 0.5): u and v across the crop, d the depth relative to the root in units of the
depth factor.
"""
import numpy as np
from mindspore import Tensor, ops


def softmax_volumes(logits):
    """(B, K, D, H, W) logits -> probabilities summing to 1 over each joint's D x H x W voxels."""
    shape = logits.shape                      # batch as -1: the reshapes stay free in dynamic-batch graphs
    voxels = shape[2] * shape[3] * shape[4]
    return ops.softmax(logits.reshape(-1, shape[1], voxels), -1).reshape((-1,) + tuple(shape[1:]))


def integrate_volumes(volumes):
    """(B, K, D, H, W) probabilities -> uvd (B, K, 3) in [-0.5, 0.5) and the peak probability (B, K, 1)."""
    depth, height, width = volumes.shape[2:]
    peak = ops.amax(volumes.reshape(-1, volumes.shape[1], depth * height * width), -1, keepdims=True)
    coords = []
    for axes, size in (((2, 3), width), ((2, 4), height), ((3, 4), depth)):
        marginal = ops.sum(volumes, axes)                                    # (B, K, size)
        index = Tensor(np.arange(size, dtype=np.float32).reshape(size, 1))
        coords.append(ops.matmul(marginal, index) / float(size) - 0.5)
    return ops.concat(coords, -1), peak


def flip_volumes(volumes, pairs, shift=True):
    """HybrIK's ``flip_heatmap`` of the flipped image's volumes (B, K, D, H, W) (HybrIK applies it to the logits,
    before the softmax): mirror W, swap the
    left/right joint ``pairs``, and (``shift``) move every column one voxel right, the first kept."""
    volumes = ops.flip(volumes, (4,))
    order = list(range(volumes.shape[1]))
    for left, right in pairs:
        order[left], order[right] = right, left
    volumes = volumes[:, order]
    if shift:
        volumes = ops.concat([volumes[..., :1], volumes[..., :-1]], -1)
    return volumes
