"""Test-time adaptation (src/inference/adaptation.py): per batch, on a copy of the weights."""
import numpy as np
import pytest

import mindspore as ms

BATCH, SIZE = 2, 64


@pytest.fixture(scope="module")
def parts(body_model_pkl):
    from HMR import SMPL
    from HMR.heads.iterative import default_mean_params
    from HMR.meta_loss import MetaHMRLoss
    from HMR.model import HMR
    ms.set_context(mode=ms.GRAPH_MODE)
    pose, shape, cam = default_mean_params()
    identity_6d = np.tile(np.array([1, 0, 0, 1, 0, 0], np.float32), 24)
    mean = {"pose": identity_6d, "shape": shape, "cam": cam}
    smpl = SMPL(body_model_pkl)
    ms.set_seed(0)
    model = HMR(smpl, backbone_depth=18, backbone_width=4, pose_head="rot6d", mean_params=mean, num_iterations=3)
    aux = HMR(smpl, backbone_depth=18, backbone_width=4, pose_head="rot6d", mean_params=mean, num_iterations=3)
    for mine, theirs in zip(aux.get_parameters(), model.get_parameters()):       # a plain model's adaptation
        mine.set_data(theirs.value().copy())
    rng = np.random.default_rng(0)
    batches = []
    for _ in range(2):
        images = rng.normal(0, 1, (BATCH, 3, SIZE, SIZE)).astype(np.float32)
        model.set_train(False)
        projected = model(ms.Tensor(images))[6].asnumpy()
        keypoints = np.concatenate([projected + rng.normal(0, 0.1, projected.shape), np.ones_like(projected[..., :1])],
                                   -1).astype(np.float32)
        batches.append((images, keypoints))
    return model, aux, MetaHMRLoss(0.5, 5.0, 1.0, 0.001), batches


@pytest.fixture(autouse=True)
def graph_mode():
    ms.set_context(mode=ms.GRAPH_MODE)


def _adapter(parts, steps=3, tolerance=0.0, lr=1e-4):
    from src.inference.adaptation import Adapter
    model, aux, loss, _ = parts
    return Adapter(model, aux, steps, 1e-4, lr, tolerance, loss, SIZE)


@pytest.fixture(scope="module")
def shared(parts):
    """One graph-mode adapter (learning rate 1e-4) for the tests that only change its step count and
    tolerance (plain attributes read per batch), so that its two cells compile once; each test gets
    it with 3 steps and no early stop. That an adapter keeps nothing from one batch to the next is
    what ``test_a_batch_does_not_depend_on_the_batches_before`` checks."""
    ms.set_context(mode=ms.GRAPH_MODE)
    return _adapter(parts)


@pytest.fixture
def adapter(shared):
    shared.steps, shared.tolerance = 3, 0.0
    return shared


def _weights(model):
    from src.checkpoints import structural_parameters      # by attribute path: stable names
    return {name: p.asnumpy().copy() for name, p in structural_parameters(model).items()}


def test_adaptation_leaves_the_model_unchanged(parts, adapter):
    model, _, _, batches = parts
    before = _weights(model)
    outputs, _ = adapter.adapt(*batches[0])
    after = _weights(model)
    assert before.keys() == after.keys()
    for name in before:
        np.testing.assert_array_equal(before[name], after[name], err_msg=name)
    model.set_train(False)
    plain = model(ms.Tensor(batches[0][0]))[4].asnumpy()
    assert np.abs(outputs[1] - plain).max() > 1e-4          # and the adapted prediction did move


@pytest.mark.parametrize("mode", [ms.GRAPH_MODE, ms.PYNATIVE_MODE])
def test_a_batch_does_not_depend_on_the_batches_before(parts, adapter, mode):
    ms.set_context(mode=mode)     # PyNative once kept stale buffers after a restore (set_data): both are checked
    _, _, _, (first, second) = parts
    # one adapter (its cells compile once): second, first, second; in graph mode the shared one, which
    # the other tests have used before
    adapter = adapter if mode == ms.GRAPH_MODE else _adapter(parts)
    alone, _ = adapter.adapt(*second)
    adapter.adapt(*first)
    after_first, _ = adapter.adapt(*second)
    for a, b in zip(alone, after_first):
        np.testing.assert_array_equal(a, b)


def test_adaptation_fits_the_keypoints(parts):
    from src.inference.fitting import keypoint_pixel_error
    model, _, _, batches = parts
    images, keypoints = batches[0]
    model.set_train(False)
    before = keypoint_pixel_error(model(ms.Tensor(images))[6].asnumpy(), keypoints, SIZE)
    # every weight of an untrained network moves by ~lr per Adam step: 1e-6 stays in the descent regime
    outputs, report = _adapter(parts, steps=8, lr=1e-6).adapt(images, keypoints)
    after = keypoint_pixel_error(outputs[3], keypoints, SIZE)
    np.testing.assert_allclose(report["keypoint_error_after"], after, rtol=1e-6)
    assert after.mean() < before.mean() and report["steps"].tolist() == [9, 9]     # the batch's 2D loss


def test_early_stop_when_the_loss_stops_changing(parts, adapter):
    adapter.steps, adapter.tolerance = 5, 1e9
    _, report = adapter.adapt(*parts[3][0])
    assert report["steps"].tolist() == [2, 2]            # step 0, one Adam step, then the loss "did not change"
