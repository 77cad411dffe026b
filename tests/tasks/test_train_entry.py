"""train.py as users run it: a killed run resumes on the same loss curve; bad arguments are one line."""
import json
import os
import signal
import subprocess
import sys

from conftest import kill_at_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = ["--backbone_depth", "18", "--backbone_width", "8", "--img_size", "64", "--batch_size", "4",
        "--num_workers", "1", "--progress_bar", "false", "--encoder_lr", "1e-3", "--epochs", "1",
        "--steps_per_epoch", "20", "--save_every", "5", "--log_every", "1000"]


def _cmd(data, out, *extra):
    return [sys.executable, "train.py", "--data_path", str(data), "--output_path", str(out), *TINY, *extra]


def _env():
    return dict(os.environ, PYTHONPATH=ROOT)


def _losses(out):
    with open(os.path.join(out, "train", "train_log.jsonl"), encoding="utf-8") as handle:
        return {r["step"]: (r["encoder_total"], r["discriminator_total"]) for r in map(json.loads, handle)}


def test_killed_run_resumes_exactly(tiny_data_dir, tmp_path):
    full = subprocess.run(_cmd(tiny_data_dir, tmp_path / "full"), cwd=ROOT, env=_env(), capture_output=True,
                          text=True, timeout=600)
    assert full.returncode == 0, full.stderr[-2000:]
    code = kill_at_checkpoint(_cmd(tiny_data_dir, tmp_path / "cut"),
                              tmp_path / "cut" / "train", "hmr-step00000010", _env())
    assert code == -signal.SIGKILL, "the run finished before it could be interrupted"
    resumed = subprocess.run(_cmd(tiny_data_dir, tmp_path / "cut", "--resume", "true"), cwd=ROOT, env=_env(),
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed from" in resumed.stderr
    a, b = _losses(tmp_path / "full"), _losses(tmp_path / "cut")
    assert sorted(a) == sorted(b) == list(range(20))
    assert a == b


def test_bad_dataset_is_one_line_error(tiny_data_dir, tmp_path):
    result = subprocess.run(_cmd(tiny_data_dir, tmp_path, "--train_datasets", "synthetic/missing.npz",
                                 "--train_dataset_ratios", "1"), cwd=ROOT, env=_env(), capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: dataset file not found: {tiny_data_dir}/synthetic/missing.npz")


def test_standalone_script_usage():
    result = subprocess.run(["bash", "scripts/run_standalone_train.sh"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == "usage: bash scripts/run_standalone_train.sh DATA_PATH [CKPT] [--KEY VALUE ...]"


def test_eval_entry_writes_metrics(tiny_data_dir, tmp_path):
    steps = ["--steps_per_epoch", "4", "--save_every", "4"]
    trained = subprocess.run(_cmd(tiny_data_dir, tmp_path, *steps), cwd=ROOT, env=_env(), capture_output=True,
                             text=True, timeout=600)
    assert trained.returncode == 0, trained.stderr[-2000:]
    checkpoint = tmp_path / "train" / "hmr-step00000004.ckpt"
    result = subprocess.run([sys.executable, "eval.py", "--data_path", str(tiny_data_dir), "--output_path", str(tmp_path),
                             *TINY, "--checkpoint_file_path", str(checkpoint)], cwd=ROOT, env=_env(),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["num_samples"] == 8 and metrics["checkpoint"] == str(checkpoint)
    assert 0 < metrics["pa_mpjpe"] < metrics["mpjpe"] < 2000      # mm
    missing = subprocess.run([sys.executable, "eval.py", "--data_path", str(tiny_data_dir), "--output_path",
                              str(tmp_path), *TINY], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines()[-1] == "error: --checkpoint_file_path is required for --source ckpt"
