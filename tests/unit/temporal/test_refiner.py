"""The temporal refiner: its interface, the untrained identity, and its exported graphs."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import mindspore as ms

SMALL = {"dim": 16, "depth": 1, "heads": 2, "hidden": 32, "kernel": 5}


def _inputs(n, t, seed=0):
    rng = np.random.default_rng(seed + 100 * n + t)
    pose2d = rng.normal(120.0, 30.0, (n, t, 17, 3)).astype(np.float32)
    pose2d[..., 2] = rng.uniform(0.0, 1.0, (n, t, 17))
    return [pose2d, rng.normal(0, 0.3, (n, t, 72)).astype(np.float32), rng.normal(0, 1, (n, t, 10)).astype(np.float32)]


def _randomised(smpl):
    """A refiner with non-zero weights everywhere (the fusing convolution starts at zero); its
    initial weights come from the seed tests/conftest.py resets before each test."""
    from HMR.temporal.refiner import TemporalRefiner
    refiner = TemporalRefiner(smpl, **SMALL)
    rng = np.random.default_rng(1)
    for param in refiner.trainable_params():
        param.set_data(ms.Tensor(param.asnumpy() + rng.normal(0, 0.05, param.shape).astype(np.float32)))
    refiner.set_train(False)
    return refiner


def test_untrained_refiner_returns_its_input_pose_and_the_mean_shape(smpl, body_model_dir):
    """rot_mat = Rodrigues(theta) (scipy), shape = the track's mean betas, vertices and the 17
    joints of SMPL at those (smplx-style check through the project's SMPL, J_regressor_h36m file)."""
    from HMR.temporal.refiner import TemporalRefiner
    refiner = TemporalRefiner(smpl, **SMALL)
    refiner.set_train(False)
    pose2d, theta, shape = _inputs(2, 7)
    rot, betas, vertices, joints = (o.asnumpy() for o in refiner(*map(ms.Tensor, (pose2d, theta, shape))))
    assert rot.shape == (2, 7, 24, 9) and betas.shape == (2, 7, 10)
    assert vertices.shape == (2, 7, 6890, 3) and joints.shape == (2, 7, 17, 3)
    want = Rotation.from_rotvec(theta.reshape(-1, 3).astype(np.float64)).as_matrix().reshape(2, 7, 24, 9)
    np.testing.assert_allclose(rot, want, atol=2e-5)
    np.testing.assert_allclose(betas, np.broadcast_to(shape.mean(1, keepdims=True), shape.shape), atol=1e-6)
    v, _ = smpl(ms.Tensor(betas.reshape(-1, 10)), ms.Tensor(theta.reshape(-1, 72)))
    np.testing.assert_allclose(vertices.reshape(-1, 6890, 3), v.asnumpy(), atol=1e-5)
    regressor = np.load(body_model_dir / "J_regressor_h36m.npy")
    np.testing.assert_allclose(joints.reshape(-1, 17, 3), np.einsum("kv,bvc->bkc", regressor, v.asnumpy()), atol=1e-5)


def test_keypoint_normalisation_ignores_the_pixel_frame(smpl):
    """The same 2D track shifted and scaled (another image size or unit) gives the same output."""
    refiner = _randomised(smpl)
    pose2d, theta, shape = _inputs(1, 9)
    moved = pose2d.copy()
    moved[..., :2] = moved[..., :2] * 2.5 + np.array([300.0, -40.0], np.float32)
    first, second = (refiner(*map(ms.Tensor, (p, theta, shape)))[0].asnumpy() for p in (pose2d, moved))
    np.testing.assert_allclose(first, second, atol=1e-4)
    assert np.abs(first - Rotation.from_rotvec(theta.reshape(-1, 3)).as_matrix().reshape(first.shape)).max() > 1e-3


def test_exported_refiner_equals_the_network_for_any_n_and_t(smpl, tmp_path):
    """ONNX (onnxruntime) and MINDIR, exported once: within 1e-4 of the network for N in {1, 3}
    and T in {16, 43}; the ONNX graph has the documented names and free N/T axes."""
    import onnxruntime as ort
    from model_utils.config import load_config
    from src.deployment.export_refiner import export_refiner
    refiner = _randomised(smpl)
    config = load_config([])
    onnx_path = export_refiner(config.replace(file_format="ONNX"), refiner, str(tmp_path / "refiner"))
    mindir_path = export_refiner(config.replace(file_format="MINDIR"), refiner, str(tmp_path / "refiner"))
    session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["pose2d", "theta", "shape"]
    assert [o.name for o in session.get_outputs()] == ["rot_mat", "refined_shape", "vertices", "keypoint_3d"]
    assert [d for d in session.get_inputs()[0].shape] == ["N", "T", 17, 3]
    graph = ms.nn.GraphCell(ms.load(mindir_path))
    for n in (1, 3):
        for t in (16, 43):
            inputs = _inputs(n, t)
            want = [o.asnumpy() for o in refiner(*map(ms.Tensor, inputs))]
            got_onnx = session.run(None, dict(zip(("pose2d", "theta", "shape"), inputs)))
            got_mindir = [o.asnumpy() for o in graph(*map(ms.Tensor, inputs))]
            for got in (got_onnx, got_mindir):
                for g, w in zip(got, want):
                    assert g.shape == w.shape
                    np.testing.assert_allclose(g, w, atol=1e-4, rtol=0)


def test_dynamic_onnx_refuses_a_graph_tied_to_the_probe_sizes(tmp_path):
    """A graph that flattens N, T and the joints together cannot be freed: the export says which node."""
    from mindspore import nn
    from src.deployment.dynamic_onnx import PROBE, DynamicExportError, make_onnx_axes_dynamic

    class Flatten(nn.Cell):
        def construct(self, x):
            flat = x.reshape(x.shape[0] * x.shape[1] * x.shape[2]) * 2.0
            return flat.reshape(x.shape[0], x.shape[1], -1)

    ms.export(Flatten(), ms.Tensor(np.zeros((*PROBE, 5), np.float32)), file_name=str(tmp_path / "bad"),
              file_format="ONNX")
    with pytest.raises(DynamicExportError, match="holds a probe size"):
        make_onnx_axes_dynamic(str(tmp_path / "bad.onnx"), "x")
