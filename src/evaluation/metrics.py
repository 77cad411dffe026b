"""3D pose and mesh metrics (numpy), per sample, plus an accumulator with breakdowns.

All functions take already-aligned arrays as the protocol requires (root-aligned for
MPJPE/PCK/AUC, see ``align_by_pelvis``) and return one value per sample, in the input's
units. ``mask`` (N, J), where accepted, selects the joints that have ground truth;
samples then average over their own valid joints.
"""
from collections import defaultdict

import numpy as np

PCK_THRESHOLD_MM = 150.0
AUC_THRESHOLDS_MM = np.linspace(0.0, 150.0, 31)     # MPI-INF-3DHP: 0, 5, ..., 150 mm


def _mask(mask, shape):
    return np.ones(shape[:2], bool) if mask is None else np.asarray(mask) > 0


def _masked_mean(values, mask):
    """Mean over joints of (N, J) ``values`` where ``mask``; NaN for a sample with no valid joint."""
    counts = mask.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, (values * mask).sum(1) / counts, np.nan)


def joint_distances(pred, gt):
    """(N, J) Euclidean distances between (N, J, 3) arrays."""
    return np.linalg.norm(np.asarray(pred, np.float64) - np.asarray(gt, np.float64), axis=-1)


def mpjpe(pred, gt, mask=None):
    """Mean per-joint position error per sample. pred, gt: (N, J, 3) -> (N,)."""
    return _masked_mean(joint_distances(pred, gt), _mask(mask, np.shape(gt)))


def procrustes_align(pred, gt, mask=None):
    """Similarity-align ``pred`` to ``gt`` per sample (rotation, uniform scale, translation).

    Least squares (Umeyama) over the joints in ``mask``, with the reflection fix so the
    result is a proper rotation. pred, gt: (N, J, 3) -> aligned pred (N, J, 3).
    """
    pred = np.asarray(pred, np.float64)
    gt = np.asarray(gt, np.float64)
    w = _mask(mask, gt.shape).astype(np.float64)[:, :, None]           # (N, J, 1)
    count = np.maximum(w.sum(1, keepdims=True), 1.0)
    mu_p, mu_g = (pred * w).sum(1, keepdims=True) / count, (gt * w).sum(1, keepdims=True) / count
    p, g = (pred - mu_p) * w, (gt - mu_g) * w
    cov = np.einsum("nji,njk->nik", p, g)                   # (N, 3, 3) = P^T G
    u, s, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(np.einsum("nij,njk->nik", u, vt)))
    fix = np.ones_like(s)
    fix[:, -1] = d
    rot = np.einsum("nij,nj,njk->nik", u, fix, vt)          # maps p onto g: p @ rot
    var_p = (p ** 2).sum((1, 2))
    scale = (s * fix).sum(1) / np.maximum(var_p, 1e-12)
    return scale[:, None, None] * np.einsum("nji,nik->njk", pred - mu_p, rot) + mu_g


def pa_mpjpe(pred, gt, mask=None):
    """MPJPE after per-sample similarity Procrustes alignment. (N, J, 3) -> (N,)."""
    return mpjpe(procrustes_align(pred, gt, mask), gt, mask)


def pck(pred, gt, threshold=PCK_THRESHOLD_MM, mask=None):
    """Fraction of joints closer than ``threshold`` (same units as the inputs). (N, J, 3) -> (N,)."""
    return _masked_mean((joint_distances(pred, gt) < threshold).astype(np.float64), _mask(mask, np.shape(gt)))


def auc(pred, gt, thresholds=AUC_THRESHOLDS_MM, mask=None):
    """Area under the PCK curve: mean PCK over ``thresholds`` (0..150 mm in 31 steps). -> (N,)."""
    dist, m = joint_distances(pred, gt), _mask(mask, np.shape(gt))
    return np.mean([_masked_mean((dist < t).astype(np.float64), m) for t in thresholds], axis=0)


def pve(pred_vertices, gt_vertices):
    """Per-vertex error: mean vertex distance per sample. (N, V, 3) aligned meshes -> (N,)."""
    return joint_distances(pred_vertices, gt_vertices).mean(-1)


def align_by_pelvis(joints, hip_indices):
    """Subtract the midpoint of the two hip joints. joints (N, J, 3)."""
    a, b = hip_indices
    return joints - (joints[:, a:a + 1] + joints[:, b:b + 1]) / 2.0


class Evaluator:
    """Accumulates per-sample metric values with group labels; summarises them.

    ``add({"mpjpe": (B,), ...}, {"action": (B,) str, ...})``; ``summary()`` gives the mean of
    every metric over all samples, ``num_samples``, and per group key a table
    ``{label: {metric: mean, "num_samples": n}}`` (e.g. per action or per sequence).
    """

    def __init__(self):
        self.values = defaultdict(list)
        self.groups = defaultdict(list)

    def add(self, metrics, groups=None):
        sizes = {len(v) for v in metrics.values()}
        if len(sizes) != 1:
            raise ValueError(f"metric arrays of different lengths: { {k: len(v) for k, v in metrics.items()} }")
        for key, value in metrics.items():
            self.values[key].append(np.asarray(value, np.float64))
        for key, labels in (groups or {}).items():
            self.groups[key].append(np.asarray(labels, str))

    def per_sample(self):
        return {k: np.concatenate(v) for k, v in self.values.items()}

    def summary(self):
        values = self.per_sample()
        count = len(next(iter(values.values()))) if values else 0
        out = {k: float(np.nanmean(v)) if count else float("nan") for k, v in values.items()}
        out["num_samples"] = count
        breakdown = {}
        for key, chunks in self.groups.items():
            labels = np.concatenate(chunks)
            table = {}
            for label in sorted(set(labels.tolist())):
                rows = labels == label
                table[label] = {k: float(np.nanmean(v[rows])) for k, v in values.items()}
                table[label]["num_samples"] = int(rows.sum())
            breakdown[key] = table
        if breakdown:
            out["breakdown"] = breakdown
        return out
