"""3D pose metrics (numpy): MPJPE and PA-MPJPE per sample, in the input's units."""
import numpy as np


def mpjpe(pred, gt):
    """Mean per-joint position error per sample.

    Args:
        pred, gt: (N, J, 3), already root-aligned as the protocol requires.
    Returns:
        (N,) mean Euclidean joint error.
    """
    return np.linalg.norm(np.asarray(pred, np.float64) - np.asarray(gt, np.float64), axis=-1).mean(-1)


def procrustes_align(pred, gt):
    """Similarity-align ``pred`` to ``gt`` per sample (rotation, uniform scale, translation).

    Least squares (Umeyama), with the reflection fix so the result is a proper rotation.
    pred, gt: (N, J, 3) -> aligned pred (N, J, 3).
    """
    pred = np.asarray(pred, np.float64)
    gt = np.asarray(gt, np.float64)
    mu_p, mu_g = pred.mean(1, keepdims=True), gt.mean(1, keepdims=True)
    p, g = pred - mu_p, gt - mu_g
    cov = np.einsum("nji,njk->nik", p, g)                   # (N, 3, 3) = P^T G
    u, s, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(np.einsum("nij,njk->nik", u, vt)))
    fix = np.ones_like(s)
    fix[:, -1] = d
    rot = np.einsum("nij,nj,njk->nik", u, fix, vt)          # maps p onto g: p @ rot
    var_p = (p ** 2).sum((1, 2))
    scale = (s * fix).sum(1) / np.maximum(var_p, 1e-12)
    return scale[:, None, None] * np.einsum("nji,nik->njk", p, rot) + mu_g


def pa_mpjpe(pred, gt):
    """MPJPE after per-sample similarity Procrustes alignment. (N, J, 3) -> (N,)."""
    return mpjpe(procrustes_align(pred, gt), gt)


def align_by_pelvis(joints, hip_indices):
    """Subtract the midpoint of the two hip joints. joints (N, J, 3)."""
    a, b = hip_indices
    return joints - (joints[:, a:a + 1] + joints[:, b:b + 1]) / 2.0
