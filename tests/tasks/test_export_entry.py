"""export.py: exported MINDIR and ONNX graphs (static and dynamic batch) give the model's outputs,
for both pose heads (HMR's axis-angle and SPIN/mmpose's 6D, the head of every imported model)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = ["--backbone_depth", "18", "--backbone_width", "8", "--img_size", "64", "--batch_size", "4",
        "--num_workers", "1", "--progress_bar", "false", "--epochs", "1", "--steps_per_epoch", "2", "--save_every", "2"]


@pytest.fixture(scope="module", params=["axis_angle", "rot6d"])
def trained(request, tiny_checkpoint):
    return tiny_checkpoint(request.param)


def _export(trained, tiny_data_dir, out, *extra):
    config, checkpoint = trained
    return subprocess.run([sys.executable, "export.py", "--data_path", str(tiny_data_dir), "--output_path", str(out),
                           *TINY, "--pose_head", config.pose_head, "--checkpoint_file_path", checkpoint, *extra],
                          cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True, timeout=600)


def _reference(config, checkpoint, images):
    import mindspore as ms
    from conftest import checkpoint_export_net
    return [o.asnumpy() for o in checkpoint_export_net(config, checkpoint)(ms.Tensor(images))]


def test_dynamic_batch_mindir(trained, tiny_data_dir, tmp_path):
    import mindspore as ms
    from mindspore import nn
    config, checkpoint = trained
    result = _export(trained, tiny_data_dir, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    graph = nn.GraphCell(ms.load(str(tmp_path / "export" / "hmr.mindir")))
    for batch in (1, 3):
        images = np.random.default_rng(batch).normal(size=(batch, 3, 64, 64)).astype(np.float32)
        outputs = [o.asnumpy() for o in graph(ms.Tensor(images))]
        expected = _reference(config, checkpoint, images)
        assert [o.shape for o in outputs] == [(batch, 85), (batch, 6890, 3), (batch, 19, 3), (batch, 19, 2)]
        for got, want in zip(outputs, expected):
            _close(got, want)


def _close(got, want):
    """Within 1e-4 relative to the output's scale (vertices are metres, theta mixes units)."""
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(want).max())))


def test_static_batch_mindir(trained, tiny_data_dir, tmp_path):
    import mindspore as ms
    from mindspore import nn
    config, checkpoint = trained
    result = _export(trained, tiny_data_dir, tmp_path, "--export_batch_size", "3")
    assert result.returncode == 0, result.stderr[-2000:]
    info = json.loads((tmp_path / "export" / "hmr.mindir.json").read_text())
    assert info["batch"] == 3 and info["img_size"] == 64 and info["image_normalization"] == "hmr"
    twin = json.loads((tmp_path / "export" / "hmr.onnx.json").read_text())       # written beside it
    assert twin["weights_sha1"] == info["weights_sha1"] and twin["format"] == "ONNX"
    graph = nn.GraphCell(ms.load(str(tmp_path / "export" / "hmr.mindir")))
    images = np.random.default_rng(7).normal(size=(3, 3, 64, 64)).astype(np.float32)
    for got, want in zip(graph(ms.Tensor(images)), _reference(config, checkpoint, images)):
        _close(got.asnumpy(), want)


@pytest.mark.parametrize("batch_arg, batches", [("0", (1, 3, 9)), ("2", (2,))])
def test_onnx_runs_in_onnxruntime(trained, tiny_data_dir, tmp_path, batch_arg, batches):
    import onnxruntime as ort
    config, checkpoint = trained
    result = _export(trained, tiny_data_dir, tmp_path, "--file_format", "ONNX", "--export_batch_size", batch_arg)
    assert result.returncode == 0, result.stderr[-2000:]
    session = ort.InferenceSession(str(tmp_path / "export" / "hmr.onnx"))
    declared = session.get_inputs()[0].shape[0]
    assert declared == ("batch" if batch_arg == "0" else 2)
    for batch in batches:
        images = np.random.default_rng(batch).normal(size=(batch, 3, 64, 64)).astype(np.float32)
        outputs = session.run(None, {session.get_inputs()[0].name: images})
        for got, want in zip(outputs, _reference(config, checkpoint, images)):
            _close(got, want)


def test_air_off_ascend_is_one_line_error(trained, tiny_data_dir, tmp_path):
    result = _export(trained, tiny_data_dir, tmp_path, "--file_format", "AIR")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: AIR export needs an Ascend device")
