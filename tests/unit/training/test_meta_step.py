"""Meta-HMR's meta-gradient against a PyTorch mirror of its trainer (tests/reference/torch_metahmr.py),
and the objective's terms by hand."""
import pickle

import numpy as np
import pytest

import mindspore as ms
from mindspore import nn

torch = pytest.importorskip("torch")
smplx = pytest.importorskip("smplx")

from tests.reference.torch_metahmr import MetaHMRLossReference, MetaRegressor, meta_step_gradients  # noqa: E402

BATCH, ITERATIONS, AUX_ITERATIONS = 3, 2, 3
FAST_NAMES = ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "decpose.weight", "decpose.bias",
              "decshape.weight", "decshape.bias", "deccam.weight", "deccam.bias")   # Meta-HMR's meta parameters


class Identity(nn.Cell):
    """Stands in for the encoder: the test's features are the 'images'."""

    def construct(self, x):
        return x


def _model(body_model_pkl, seed, iterations):
    from HMR import SMPL
    from HMR.model import HMR
    rng = np.random.default_rng(seed)
    identity_6d = np.tile(np.array([1, 0, 0, 1, 0, 0], np.float32), 24)
    mean = {"pose": identity_6d + rng.normal(0, 0.05, 144).astype(np.float32),
            "shape": rng.normal(0, 0.1, 10).astype(np.float32), "cam": np.array([0.9, 0.02, -0.03], np.float32)}
    ms.set_seed(seed)
    model = HMR(SMPL(body_model_pkl), backbone_depth=18, backbone_width=4, pose_head="rot6d", mean_params=mean,
                num_iterations=iterations)
    feature_dim = model.encoder.feature_dim
    model.encoder = Identity()
    return model, mean, feature_dim


def _torch_head(model, mean, feature_dim):
    head = MetaRegressor(feature_dim, mean["pose"], mean["shape"], mean["cam"])
    with torch.no_grad():
        for name, param in head.named_parameters():
            layer, kind = name.split(".")
            param.copy_(torch.from_numpy(getattr(getattr(model.regressor, layer), kind).asnumpy()))
    return head


def _torch_body(body_model_pkl):
    reference = smplx.SMPL(body_model_pkl)
    with open(body_model_pkl, "rb") as handle:
        cocoplus = torch.from_numpy(np.asarray(pickle.load(handle, encoding="latin1")["cocoplus_regressor"]
                                               .todense(), np.float32))

    def body(rotmats, betas):
        out = reference(betas=betas, global_orient=rotmats[:, :1], body_pose=rotmats[:, 1:], pose2rot=False)
        return out.vertices, torch.einsum("jv,bvc->bjc", cocoplus, out.vertices)
    return body


def _batch(rng, feature_dim):
    keypoints = np.concatenate([rng.uniform(-0.8, 0.8, (BATCH, 19, 2)),
                                (rng.uniform(size=(BATCH, 19, 1)) > 0.3)], 2).astype(np.float32)
    joints3d = np.concatenate([rng.normal(0, 0.3, (BATCH, 14, 3)), (rng.uniform(size=(BATCH, 14, 1)) > 0.2)],
                              2).astype(np.float32)
    return {"features": rng.normal(0, 1, (BATCH, feature_dim)).astype(np.float32), "keypoints": keypoints,
            "joints3d": joints3d, "pose": rng.normal(0, 0.3, (BATCH, 72)).astype(np.float32),
            "betas": rng.normal(0, 0.5, (BATCH, 10)).astype(np.float32),
            "has_smpl": np.array([1, 0, 1], np.float32), "has_3d": np.array([1, 1, 0], np.float32),
            "noise": rng.uniform(size=(2 * ITERATIONS, 2, BATCH, 1024)).astype(np.float32)}


@pytest.mark.parametrize("first_order", [True, False])
def test_meta_gradient_matches_metahmr_in_pytorch(body_model_pkl, first_order):
    from HMR.heads.iterative import fast_parameters
    from HMR.meta_loss import MetaHMRLoss, pseudo_targets
    from src.training.meta_step import MetaObjective
    ms.set_context(mode=ms.GRAPH_MODE)
    model, mean, feature_dim = _model(body_model_pkl, 0, ITERATIONS)
    aux, _, _ = _model(body_model_pkl, 1, AUX_ITERATIONS)
    aux.set_train(False)
    rng = np.random.default_rng(3)
    data = _batch(rng, feature_dim)
    inner_lr = 1e-3        # large enough for the inner step to change the outer gradient, small enough to stay finite
    objective = MetaObjective(model, MetaHMRLoss(0.5, 5.0, 1.0, 0.001), 1, inner_lr, 60.0, first_order)
    fast = fast_parameters(model.regressor)
    grad_fn = ms.value_and_grad(objective, None, ms.ParameterTuple(fast), has_aux=True)
    aux_out = aux(ms.Tensor(data["features"]))
    t = {k: ms.Tensor(v) for k, v in data.items()}
    (total, *_), grads = grad_fn(t["features"], t["keypoints"], t["joints3d"], t["pose"], t["betas"], t["has_smpl"],
                                 t["has_3d"], ms.Tensor(np.ones(BATCH, np.float32)), t["noise"],
                                 pseudo_targets(aux_out))

    head = _torch_head(model, mean, feature_dim)
    body = _torch_body(body_model_pkl)
    tt = {k: torch.from_numpy(v) for k, v in data.items()}
    gt_rotmats = smplx.lbs.batch_rodrigues(tt["pose"].reshape(-1, 3)).reshape(BATCH, 24, 3, 3)
    gt_vertices, _ = body(gt_rotmats, tt["betas"])
    a_rot, a_betas, a_vertices, a_joints = (torch.from_numpy(aux_out[i].asnumpy()) for i in (3, 2, 4, 5))
    batch = {"keypoints": tt["keypoints"], "gt_rotmats": gt_rotmats, "betas": tt["betas"],
             "gt_vertices": gt_vertices.detach(), "joints": tt["joints3d"][:, :, :3], "conf": tt["joints3d"][:, :, 3:],
             "has_smpl": tt["has_smpl"], "has_3d": tt["has_3d"]}
    keep = (tt["noise"] >= 0.5).float() * 2.0
    outer, reference = meta_step_gradients(head, tt["features"], keep, ITERATIONS, MetaHMRLossReference(body),
                                           inner_lr, first_order, batch, (a_rot, a_betas, a_vertices, a_joints))
    assert np.isfinite(float(outer.detach()))
    np.testing.assert_allclose(float(total.asnumpy()), float(outer.detach()), rtol=1e-4)
    for name, grad in zip(FAST_NAMES, grads):
        expected = reference[name].numpy()
        scale = np.abs(expected).max()
        assert scale > 0, name
        np.testing.assert_allclose(grad.asnumpy(), expected, atol=2e-4 * scale, rtol=0, err_msg=name)


def test_first_and_second_order_differ(body_model_pkl):
    """The second-order term is not zero for this step size (so the test above checks it)."""
    head_grads = {}
    for first_order in (True, False):
        model, mean, feature_dim = _model(body_model_pkl, 0, ITERATIONS)
        head = _torch_head(model, mean, feature_dim)
        aux_head = _torch_head(*_model(body_model_pkl, 1, AUX_ITERATIONS))
        body = _torch_body(body_model_pkl)
        data = {k: torch.from_numpy(v) for k, v in _batch(np.random.default_rng(3), feature_dim).items()}
        with torch.no_grad():
            a_rot, a_betas, _ = aux_head(data["features"], None, AUX_ITERATIONS)
            a_vertices, a_joints = body(a_rot, a_betas)
        gt_rotmats = smplx.lbs.batch_rodrigues(data["pose"].reshape(-1, 3)).reshape(BATCH, 24, 3, 3)
        batch = {"keypoints": data["keypoints"], "gt_rotmats": gt_rotmats, "betas": data["betas"],
                 "gt_vertices": body(gt_rotmats, data["betas"])[0].detach(), "joints": data["joints3d"][:, :, :3],
                 "conf": data["joints3d"][:, :, 3:], "has_smpl": data["has_smpl"], "has_3d": data["has_3d"]}
        keep = (data["noise"] >= 0.5).float() * 2.0
        head_grads[first_order] = meta_step_gradients(head, data["features"], keep, ITERATIONS,
                                                      MetaHMRLossReference(body), 1e-3, first_order, batch,
                                                      (a_rot, a_betas, a_vertices, a_joints))[1]["fc1.weight"]
    assert (head_grads[True] - head_grads[False]).abs().max() > 1e-3 * head_grads[True].abs().max()


def test_objective_terms_by_hand():
    """Two samples, one keypoint each way: the terms as Meta-HMR's formulas give them."""
    from HMR.meta_loss import MetaHMRLoss
    ms.set_context(mode=ms.PYNATIVE_MODE)
    b, k = 2, 14
    cam = np.array([[0.1, 0, 0], [0.5, 0, 0]], np.float32)
    rotmats = np.tile(np.eye(3, dtype=np.float32), (b, 24, 1, 1))
    betas = np.zeros((b, 10), np.float32)
    vertices = np.zeros((b, 5, 3), np.float32)
    joints = np.zeros((b, k, 3), np.float32)
    joints[0, 5] = [0.3, 0, 0]                 # sample 0: one joint 0.3 m off (hips at 0)
    keypoints2d = np.zeros((b, k, 2), np.float32)
    keypoints2d[1, 0] = [0.2, 0.0]
    observed = np.zeros((b, k, 3), np.float32)
    observed[:, :, 2] = 1.0
    observed[1, 1, 2] = 0.0
    t_rotmats = rotmats.copy()
    t_rotmats[0, 0] = np.diag([1, -1, -1])    # 180 degrees about x for sample 0's root
    t_betas = np.ones((b, 10), np.float32)
    t_vertices = np.full((b, 5, 3), 0.1, np.float32)
    loss = MetaHMRLoss(0.5, 5.0, 1.0, 0.001)
    terms = [float(x.asnumpy()) for x in loss(
        tuple(ms.Tensor(x) for x in (cam, rotmats, betas, vertices, joints, keypoints2d)), ms.Tensor(observed),
        tuple(ms.Tensor(x) for x in (t_rotmats, t_betas, t_vertices, np.zeros((b, k, 3), np.float32),
                                     np.ones((b, k, 1), np.float32))),
        ms.Tensor(np.array([1, 0], np.float32)), ms.Tensor(np.array([1, 1], np.float32)))]
    total, kp, j3d, shape, pose, betas_term, camera = terms
    assert kp == pytest.approx(0.2 ** 2 / (b * k * 2))                 # visible, in the mean over all
    assert j3d == pytest.approx(0.3 ** 2 / (b * k * 3))
    assert shape == pytest.approx(0.1)                                 # sample 0 only (has_smpl)
    assert pose == pytest.approx(8.0 / (24 * 9))                       # two entries of -1 vs 1
    assert betas_term == pytest.approx(1.0)
    assert camera == pytest.approx((np.exp(-2.0) + np.exp(-10.0)) / 2, rel=1e-5)
    assert total == pytest.approx(0.5 * shape + 5 * (kp + j3d) + pose + 0.001 * betas_term + camera, rel=1e-6)
