"""Smoothing tracks over time: the trained temporal refiner network (``HMR/temporal``; exported graph or
checkpoint) or, without one, the One-Euro filter (``src/inference/one_euro.py``).

``build_track_smoother(config, smpl)`` returns an object whose ``smooth(pose2d, pose, betas, frame_size)``
takes one track, (T, 17, 3) H36M 2D keypoints (pixels + confidence), (T, 72) per-frame
axis-angle pose and (T, 10) betas, and the (width, height) of its frames, and returns the refined
(T, 72) pose and (T, 10) betas. A refiner that takes frame-normalised keypoints (EHGFormer) gets them
normalised here. A track longer than the refiner's clip (its own training length, EHGFormer's 16, or
``temporal_clip``) is refined in windows of that length overlapping by half, blended with triangular
weights (rotation matrices averaged and projected back onto rotations), so no window edge shows as a
jump.
"""
import logging
import os

import numpy as np
from scipy.spatial.transform import Rotation

from HMR.temporal.registry import frame_keypoints
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
    """The refiner network ``config.temporal_refiner`` names (``HMR/temporal/registry.py``; needs the H36M
    regressor); weights not loaded."""
    from HMR.temporal.registry import build_refiner
    if "h36m" not in smpl.regressor_names:
        raise UserInputError("the temporal refiner needs J_regressor_h36m (--h36m_regressor_path or data_path)")
    return build_refiner(config, smpl)


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
    """The temporal refiner on whole tracks (windows of ``clip`` frames). ``keypoints``: the form its 2D
    input takes (``HMR/temporal/registry.py``): ``pixels`` as given, ``frame`` normalised by the frame size."""

    kind = "refiner"

    def __init__(self, run, clip, keypoints="pixels"):
        self.run, self.clip, self.keypoints = run, clip, keypoints

    def smooth(self, pose2d, pose, betas, frame_size=None):
        """One track: (T, 17, 3) pixel keypoints, (T, 72) pose, (T, 10) betas; ``frame_size`` (width, height)
        of its frames, needed by a refiner that takes frame-normalised keypoints."""
        if self.keypoints == "frame":
            if frame_size is None:
                raise ValueError("this refiner takes frame-normalised keypoints: pass frame_size=(width, height)")
            pose2d = frame_keypoints(pose2d, *frame_size)
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

    def smooth(self, pose2d, pose, betas, frame_size=None):
        from src.inference.one_euro import filter_track
        del pose2d, frame_size
        return filter_track(pose, betas, self.min_cutoff, self.beta)


def build_filter(config):
    return FilterTrackSmoother(config.one_euro_min_cutoff, config.one_euro_beta)


def _graph_facts(path, config):
    """(keypoint form, clip) of an exported refiner: its ``.json`` (written by ``export.py``), else the
    configured refiner's."""
    import json

    from HMR.temporal.registry import refiner_clip, refiner_spec
    facts = {}
    if os.path.isfile(path + ".json"):
        with open(path + ".json", encoding="utf-8") as handle:
            facts = json.load(handle)
    spec = refiner_spec(facts.get("refiner", config.temporal_refiner))
    return spec.keypoints, int(facts.get("clip") or refiner_clip(config))


def build_track_smoother(config, smpl):
    """``temporal_model`` (.onnx / .mindir), else ``temporal_checkpoint``, else the One-Euro filter
    (logged as such)."""
    from HMR.temporal.registry import refiner_clip, refiner_spec
    if config.temporal_model:
        path = config.temporal_model
        if not os.path.isfile(path):
            raise UserInputError(f"--temporal_model not found: {path}")
        keypoints, clip = _graph_facts(path, config)
        if path.endswith(".onnx"):
            return NetworkTrackSmoother(OnnxRefiner(path), clip, keypoints)
        if path.endswith(".mindir"):
            import mindspore as ms
            return NetworkTrackSmoother(MindsporeRefiner(ms.nn.GraphCell(ms.load(path))), clip, keypoints)
        raise UserInputError(f"--temporal_model must be a .onnx or .mindir file, got {path}")
    if config.temporal_checkpoint:
        from src.checkpoints import load_model_weights
        network = build_temporal_refiner(config, smpl)
        load_model_weights(config.temporal_checkpoint, network)
        network.set_train(False)
        return NetworkTrackSmoother(MindsporeRefiner(network), refiner_clip(config),
                                    refiner_spec(config.temporal_refiner).keypoints)
    logger.info("no trained temporal refiner (--temporal_model / --temporal_checkpoint): tracks are smoothed by the "
                "One-Euro filter (min_cutoff %g, beta %g)", config.one_euro_min_cutoff, config.one_euro_beta)
    return build_filter(config)


def refiner_keypoints(config, pose2d, data, path):
    """(N, 17, 3) pixel keypoints of a dataset's rows in the form the configured refiner takes."""
    from HMR.temporal.registry import refiner_spec
    from src.data.sequences import frame_sizes
    if refiner_spec(config.temporal_refiner).keypoints != "frame":
        return pose2d
    sizes = frame_sizes(data, path).astype(np.float32)
    return frame_keypoints(pose2d, sizes[:, 1, None], sizes[:, 0, None])
