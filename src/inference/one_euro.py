"""The non-learned temporal fallback: a One-Euro filter (Casiez et al., CHI 2012) on each joint
rotation of a track, run in the 6D representation and mapped back to rotations.

Per value x_t (frames as the time unit): the derivative is low-passed with cutoff
``derivative_cutoff``; the value with cutoff ``min_cutoff + beta * |derivative|`` (cycles per
frame), so slow motion is smoothed hard and fast motion passes with little lag. The filter is
causal (it can run live). Betas are averaged over the track.
"""
import numpy as np
from scipy.spatial.transform import Rotation

DERIVATIVE_CUTOFF = 0.2         # cycles per frame


def _alpha(cutoff):
    """Smoothing factor of a first-order low-pass at ``cutoff`` cycles per frame."""
    tau = 1.0 / (2.0 * np.pi * cutoff)
    return 1.0 / (1.0 + tau)


def one_euro(values, min_cutoff, beta, derivative_cutoff=DERIVATIVE_CUTOFF):
    """Filter (T, D) values along T; returns (T, D) float64."""
    values = np.asarray(values, np.float64)
    out = np.empty_like(values)
    out[0] = values[0]
    derivative = np.zeros(values.shape[1:])
    d_alpha = _alpha(derivative_cutoff)
    for t in range(1, len(values)):
        derivative = d_alpha * (values[t] - out[t - 1]) + (1 - d_alpha) * derivative
        alpha = _alpha(min_cutoff + beta * np.abs(derivative))
        out[t] = alpha * values[t] + (1 - alpha) * out[t - 1]
    return out


def _gram_schmidt(six):
    """(..., 3, 2) two columns -> (..., 3, 3) rotation matrices (SPIN's 6D -> rotation)."""
    a1, a2 = six[..., 0], six[..., 1]
    b1 = a1 / np.linalg.norm(a1, axis=-1, keepdims=True)
    b2 = a2 - np.sum(b1 * a2, -1, keepdims=True) * b1
    b2 /= np.linalg.norm(b2, axis=-1, keepdims=True)
    return np.stack([b1, b2, np.cross(b1, b2)], -1)


def filter_track(pose, betas, min_cutoff, beta):
    """One track's per-frame pose (T, 72) axis-angle and betas (T, 10) -> the filtered
    (T, 72) pose and the track's mean betas on every frame (T, 10)."""
    frames = len(pose)
    six = Rotation.from_rotvec(np.asarray(pose, np.float64).reshape(-1, 3)).as_matrix()[..., :2]
    smoothed = one_euro(six.reshape(frames, -1), min_cutoff, beta).reshape(-1, 3, 2)
    filtered = Rotation.from_matrix(_gram_schmidt(smoothed)).as_rotvec().reshape(frames, -1)
    return filtered.astype(np.float32), np.repeat(np.mean(betas, 0, keepdims=True), frames, 0).astype(np.float32)
