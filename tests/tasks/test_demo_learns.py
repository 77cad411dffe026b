"""The demo's main job end to end on a fresh data folder: it must learn, not just run."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAX_RATIO = 0.70     # trained MPJPE / untrained (mean-pose) MPJPE on the held-out synthetic eval set


def _run_demo_job(tmp_path):
    return subprocess.run([sys.executable, "-m", "src.main_job.run", "--config_path",
                           "src/main_job/demo_config.yaml", "--data_path", str(tmp_path / "HMR_DATA"),
                           "--output_path", str(tmp_path / "out"), "--progress_bar", "false"],
                          cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True, timeout=1500)


def test_demo_trains_and_lowers_3d_error(tmp_path):
    result = _run_demo_job(tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "out" / "demo" / "summary.json").read_text())
    assert summary["synthetic"] is True
    assert summary["untrained"]["num_samples"] == summary["trained"]["num_samples"] == 200
    assert summary["trained"]["mpjpe"] <= MAX_RATIO * summary["untrained"]["mpjpe"], summary
    assert os.path.isfile(summary["checkpoint"]) and os.path.isfile(summary["config"])
    assert os.path.isfile(tmp_path / "out" / "demo" / "bodies.png")
    # deployment: exported graphs, CPU inference on .bin files (acc.log) equal to eval, overlays
    assert os.path.isfile(summary["mindir"]) and os.path.isfile(summary["onnx"])
    assert abs(summary["infer"]["mpjpe"] - summary["trained"]["mpjpe"]) < 0.1
    assert abs(summary["infer"]["pa_mpjpe"] - summary["trained"]["pa_mpjpe"]) < 0.1
    assert len(summary["overlays"]) == 4 and all(os.path.isfile(p) for p in summary["overlays"])
    # the job is resumable/idempotent: a second run reuses data and the finished training
    again = _run_demo_job(tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    second = json.loads((tmp_path / "out" / "demo" / "summary.json").read_text())
    assert second["checkpoint"] == summary["checkpoint"]
    assert abs(second["trained"]["mpjpe"] - summary["trained"]["mpjpe"]) < 1e-3
