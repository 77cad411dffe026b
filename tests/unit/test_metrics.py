"""MPJPE / PA-MPJPE against hand-computed cases and a straightforward reference."""
import numpy as np
from scipy.spatial.transform import Rotation

from src.metrics import align_by_pelvis, mpjpe, pa_mpjpe, procrustes_align


def test_mpjpe_by_hand():
    gt = np.zeros((1, 2, 3))
    pred = np.array([[[3.0, 4.0, 0.0], [0.0, 0.0, 1.0]]])
    np.testing.assert_allclose(mpjpe(pred, gt), [3.0])      # (5 + 1) / 2


def test_pa_mpjpe_of_a_similar_copy_is_zero():
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(20, 14, 3))
    rot = Rotation.random(20, random_state=1).as_matrix()
    pred = 2.7 * np.einsum("nij,nkj->nki", rot, gt) + rng.normal(size=(20, 1, 3))
    assert pa_mpjpe(pred, gt).max() < 1e-9
    assert mpjpe(pred, gt).min() > 0.1


def test_reflection_is_not_allowed():
    gt = np.random.default_rng(2).normal(size=(1, 14, 3))
    mirrored = gt * np.array([-1.0, 1.0, 1.0])
    aligned = procrustes_align(mirrored, gt)
    assert pa_mpjpe(mirrored, gt)[0] > 0.05                   # a mirror cannot be undone by a rotation
    _, s, _ = np.linalg.svd(aligned[0] - aligned[0].mean(0))
    assert s.min() > 1e-6


def _reference_pa(pred, gt):
    """Textbook Umeyama on one sample, written independently."""
    mp, mg = pred.mean(0), gt.mean(0)
    x, y = pred - mp, gt - mg
    u, s, vt = np.linalg.svd(y.T @ x)
    d = np.eye(3)
    d[2, 2] = np.sign(np.linalg.det(u @ vt))
    r = u @ d @ vt
    c = np.trace(np.diag(s) @ d) / (x ** 2).sum()
    aligned = c * x @ r.T + mg
    return np.linalg.norm(aligned - gt, axis=1).mean()


def test_agrees_with_reference_on_random_data():
    rng = np.random.default_rng(3)
    pred, gt = rng.normal(size=(50, 14, 3)), rng.normal(size=(50, 14, 3))
    np.testing.assert_allclose(pa_mpjpe(pred, gt), [_reference_pa(p, g) for p, g in zip(pred, gt)], rtol=1e-9)


def test_align_by_pelvis():
    joints = np.arange(2 * 14 * 3, dtype=float).reshape(2, 14, 3)
    aligned = align_by_pelvis(joints, (2, 3))
    np.testing.assert_allclose((aligned[:, 2] + aligned[:, 3]) / 2, 0.0)
