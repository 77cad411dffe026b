"""Smoothing tracks over time: the trained temporal refiner network (``HMR/temporal``; exported graph or
checkpoint) or, without one, the One-Euro filter (``src/inference/one_euro.py``).

``build_track_smoother(config, smpl)`` returns an object whose ``smooth(pose2d, pose, betas)``
takes one track, (T, 17, 3) H36M 2D keypoints (pixels + confidence), (T, 72) per-frame
axis-angle pose and (T, 10) betas, and returns the refined (T, 72) pose and (T, 10) betas. A
track longer than ``temporal_clip`` frames is refined in windows of that length overlapping by
half, blended with triangular weights (rotation matrices averaged and projected back onto
rotations), so no window edge shows as a jump.
"""
import logging
import os

import numpy as np
from scipy.spatial.transform import Rotation

from model_utils.errors import UserInputError

logger = logging.getLogger(__name__)


class OnnxRefiner:
    """The exported refiner run by onnxruntime (the deployment default on CPUs)."""

    def __init__(self, path):
        import onnxruntime as ort
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def __call__(self, pose2d, theta, shape):
        """(N, T, ...) float32 arrays -> [rot_mat (N, T, 24, 9), shape, vertices, keypoint_3d]."""
        return self.session.run(None, dict(zip(self.inputs, (pose2d, theta, shape))))


class MindsporeRefiner:
    """A MINDIR graph, or the network with a checkpoint's weights."""

    def __init__(self, network):
        self.network = network

    def __call__(self, pose2d, theta, shape):
        import mindspore as ms
        return [o.asnumpy() for o in self.network(ms.Tensor(pose2d), ms.Tensor(theta), ms.Tensor(shape))]


def build_temporal_refiner(config, smpl):
    """The TemporalRefiner network of ``config``'s refiner keys (needs the H36M regressor); weights not loaded."""
    from HMR.temporal.refiner import TemporalRefiner
    if "h36m" not in smpl.regressor_names:
        raise UserInputError("the temporal refiner needs J_regressor_h36m (--h36m_regressor_path or data_path)")
    if config.temporal_dim % config.temporal_heads:
        raise UserInputError(f"--temporal_dim {config.temporal_dim} must be a multiple of --temporal_heads "
                             f"{config.temporal_heads}")
    if config.temporal_kernel % 2 != 1:
        raise UserInputError(f"--temporal_kernel must be odd, got {config.temporal_kernel}")
    return TemporalRefiner(smpl, dim=config.temporal_dim, depth=config.temporal_depth, heads=config.temporal_heads,
                           hidden=config.temporal_hidden, kernel=config.temporal_kernel)


def window_starts(frames, clip):
    """Start frames of windows of ``clip`` frames overlapping by half, the last one ending at the end."""
    if frames <= clip:
        return [0]
    stride = max(clip // 2, 1)
    starts = list(range(0, frames - clip, stride)) + [frames - clip]
    return sorted(set(starts))


def _triangle(length):
    centre = (length - 1) / 2.0
    return 1.0 - np.abs(np.arange(length) - centre) / (centre + 1.0)


def _nearest_rotations(matrices):
    """Project (..., 3, 3) matrices onto rotations (SVD, determinant +1)."""
    u, _, vt = np.linalg.svd(matrices)
    fix = np.ones(matrices.shape[:-1])
    fix[..., -1] = np.sign(np.linalg.det(u @ vt))
    return (u * fix[..., None, :]) @ vt


class NetworkTrackSmoother:
    """The temporal refiner on whole tracks (windows of ``clip`` frames)."""

    kind = "refiner"

    def __init__(self, run, clip):
        self.run, self.clip = run, clip

    def smooth(self, pose2d, pose, betas):
        frames = len(pose)
        total = np.zeros((frames, 24, 3, 3))
        weight = np.zeros(frames)
        for start in window_starts(frames, self.clip):
            rows = slice(start, min(start + self.clip, frames))
            count = rows.stop - rows.start
            out = self.run(*(np.ascontiguousarray(x[rows][None], np.float32) for x in (pose2d, pose, betas)))
            w = _triangle(count)
            total[rows] += w[:, None, None, None] * out[0][0].reshape(count, 24, 3, 3)
            weight[rows] += w
        rotations = _nearest_rotations(total / weight[:, None, None, None])
        refined = Rotation.from_matrix(rotations.reshape(-1, 3, 3)).as_rotvec().reshape(frames, 72)
        return refined.astype(np.float32), np.repeat(np.mean(betas, 0, keepdims=True), frames, 0).astype(np.float32)


class FilterTrackSmoother:
    """The non-learned fallback (One-Euro filter on the rotations, mean betas)."""

    kind = "filter"

    def __init__(self, min_cutoff, beta):
        self.min_cutoff, self.beta = min_cutoff, beta

    def smooth(self, pose2d, pose, betas):
        from src.inference.one_euro import filter_track
        del pose2d
        return filter_track(pose, betas, self.min_cutoff, self.beta)


def build_filter(config):
    return FilterTrackSmoother(config.one_euro_min_cutoff, config.one_euro_beta)


def build_track_smoother(config, smpl):
    """``temporal_model`` (.onnx / .mindir), else ``temporal_checkpoint``, else the One-Euro filter
    (logged as such)."""
    if config.temporal_model:
        path = config.temporal_model
        if not os.path.isfile(path):
            raise UserInputError(f"--temporal_model not found: {path}")
        if path.endswith(".onnx"):
            return NetworkTrackSmoother(OnnxRefiner(path), config.temporal_clip)
        if path.endswith(".mindir"):
            import mindspore as ms
            return NetworkTrackSmoother(MindsporeRefiner(ms.nn.GraphCell(ms.load(path))), config.temporal_clip)
        raise UserInputError(f"--temporal_model must be a .onnx or .mindir file, got {path}")
    if config.temporal_checkpoint:
        from src.checkpoints import load_model_weights
        network = build_temporal_refiner(config, smpl)
        load_model_weights(config.temporal_checkpoint, network)
        network.set_train(False)
        return NetworkTrackSmoother(MindsporeRefiner(network), config.temporal_clip)
    logger.info("no trained temporal refiner (--temporal_model / --temporal_checkpoint): tracks are smoothed by the "
                "One-Euro filter (min_cutoff %g, beta %g)", config.one_euro_min_cutoff, config.one_euro_beta)
    return build_filter(config)
