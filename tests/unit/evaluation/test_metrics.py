"""MPJPE / PA-MPJPE against hand-computed cases and a straightforward reference."""
import numpy as np
from scipy.spatial.transform import Rotation

from src.evaluation.metrics import align_by_pelvis, mpjpe, pa_mpjpe, procrustes_align


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


def test_pck_and_auc_by_hand():
    from src.evaluation.metrics import auc, pck
    gt = np.zeros((1, 4, 3))
    pred = np.array([[[0, 0, 0.0], [100.0, 0, 0], [0, 149.9, 0], [0, 0, 151.0]]])   # mm
    np.testing.assert_allclose(pck(pred, gt), [0.75])
    # thresholds 0, 5, ..., 150: joint 0 (0 mm) counts at none of them (strict <) except >0 ones -> 30/31,
    # joint at 100 mm below thresholds 105..150 (10 of 31), 149.9 below 150 (1), 151 never.
    np.testing.assert_allclose(auc(pred, gt), [(30 + 10 + 1 + 0) / (4 * 31)])


def _loop_reference(pred, gt, mask):
    """Per-sample metrics written the plain way (one sample, one joint at a time)."""
    out = {"mpjpe": [], "pa": [], "pck": [], "auc": []}
    for p, g, m in zip(pred, gt, mask):
        p, g = p[m], g[m]
        d = [np.sqrt(((a - b) ** 2).sum()) for a, b in zip(p, g)]
        out["mpjpe"].append(np.mean(d))
        out["pa"].append(_reference_pa(p, g))
        out["pck"].append(np.mean([x < 150 for x in d]))
        out["auc"].append(np.mean([np.mean([x < t for x in d]) for t in np.linspace(0, 150, 31)]))
    return out


def test_masked_metrics_agree_with_a_plain_implementation():
    from src.evaluation.metrics import auc, pck
    rng = np.random.default_rng(4)
    gt = rng.normal(0, 300, (40, 17, 3))
    pred = gt + rng.normal(0, 80, (40, 17, 3))
    mask = rng.random((40, 17)) < 0.8
    mask[:, :4] = True
    ref = _loop_reference(pred, gt, mask)
    np.testing.assert_allclose(mpjpe(pred, gt, mask), ref["mpjpe"], rtol=1e-10)
    np.testing.assert_allclose(pa_mpjpe(pred, gt, mask), ref["pa"], rtol=1e-8)
    np.testing.assert_allclose(pck(pred, gt, mask=mask), ref["pck"], rtol=1e-12)
    np.testing.assert_allclose(auc(pred, gt, mask=mask), ref["auc"], rtol=1e-12)


def test_pve_and_evaluator_breakdown():
    from src.evaluation.metrics import Evaluator, pve
    gt = np.zeros((2, 5, 3))
    pred = gt.copy()
    pred[0, :, 0] = 2.0
    pred[1, 0, 2] = 5.0
    np.testing.assert_allclose(pve(pred, gt), [2.0, 1.0])
    evaluator = Evaluator()
    evaluator.add({"mpjpe": [10.0, 20.0], "pa_mpjpe": [1.0, 2.0]}, {"action": ["Walking", "Eating"]})
    evaluator.add({"mpjpe": [30.0], "pa_mpjpe": [3.0]}, {"action": ["Walking"]})
    summary = evaluator.summary()
    assert summary["mpjpe"] == 20.0 and summary["num_samples"] == 3
    assert summary["breakdown"]["action"] == {"Eating": {"mpjpe": 20.0, "pa_mpjpe": 2.0, "num_samples": 1},
                                              "Walking": {"mpjpe": 20.0, "pa_mpjpe": 2.0, "num_samples": 2}}
