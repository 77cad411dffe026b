"""Meta-HMR through the entry points: train.py --meta (resumed), eval.py --adapt."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import stopped_copy

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = ["--backbone_depth", "18", "--backbone_width", "8", "--img_size", "64", "--batch_size", "4",
        "--num_workers", "1", "--progress_bar", "false", "--pose_head", "rot6d", "--eval_batch_size", "3"]
# encoder_lr below Meta-HMR's 1e-4: with this tiny encoder 1e-4 sits at the edge of stability (a
# roundoff-level change in the rendered data once sent the camera term to inf at step 13)
META = ["--meta", "true", "--regressor_iterations", "4", "--encoder_lr", "3e-5",
        "--epochs", "1", "--steps_per_epoch", "10", "--save_every", "5", "--log_every", "1000"]


def _env():
    return dict(os.environ, PYTHONPATH=ROOT)


@pytest.fixture(scope="module")
def base(tiny_data_dir, tmp_path_factory):
    """A briefly trained plain model: the starting point and the auxiliary network."""
    import mindspore as ms
    from model_utils.config import load_config
    from src.training.loop import train
    out = tmp_path_factory.mktemp("meta_base")
    ms.set_seed(0)
    return train(load_config(["--data_path", str(tiny_data_dir), "--output_path", str(out), *TINY, "--epochs", "1",
                              "--steps_per_epoch", "4", "--save_every", "4", "--encoder_lr", "1e-3"]))["checkpoint"]


def _cmd(data, out, checkpoint, *extra):
    return [sys.executable, "train.py", "--data_path", str(data), "--output_path", str(out), *TINY, *META,
            "--checkpoint_file_path", checkpoint, *extra]


def _log(out):
    with open(os.path.join(out, "train", "train_log.jsonl"), encoding="utf-8") as handle:
        return {r["step"]: (r["outer_total"], r["inner_total"]) for r in map(json.loads, handle)}


def _checkpoint(path):
    import mindspore as ms
    return {k: v.asnumpy() for k, v in ms.load_checkpoint(str(path)).items() if hasattr(v, "asnumpy")}


def test_meta_training_resumes_exactly(tiny_data_dir, base, tmp_path):
    """train.py --meta resumed from the checkpoint of step 5 (the main network, its optimiser and the
    auxiliary network) replays the uninterrupted run's last 5 steps exactly."""
    full = subprocess.run(_cmd(tiny_data_dir, tmp_path / "full", base), cwd=ROOT, env=_env(), capture_output=True,
                          text=True, timeout=900)
    assert full.returncode == 0, full.stderr[-2000:]
    stopped_copy(tmp_path / "full" / "train", 5, tmp_path / "cut" / "train")
    resumed = subprocess.run(_cmd(tiny_data_dir, tmp_path / "cut", base, "--resume", "true"), cwd=ROOT, env=_env(),
                             capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed from" in resumed.stderr
    a, b = _log(tmp_path / "full"), _log(tmp_path / "cut")
    assert sorted(a) == sorted(b) == list(range(10)) and a == b
    assert all(inner > 0 for _, inner in a.values())                    # the inner step ran every step
    final, cut = (_checkpoint(p / "train" / "hmr-step00000010.ckpt") for p in (tmp_path / "full", tmp_path / "cut"))
    assert final.keys() == cut.keys()
    assert {k.split(".")[0] for k in final if "." in k} == {"model", "aux", "opt_e"}
    for key in final:
        np.testing.assert_array_equal(final[key], cut[key], err_msg=key)
    # the auxiliary network is the starting checkpoint, untouched; the main network moved
    start = _checkpoint(base)
    for key in (k for k in final if k.startswith("aux.")):
        np.testing.assert_array_equal(final[key], start["model." + key[4:]], err_msg=key)
    assert np.abs(final["model.regressor.fc1.weight"] - start["model.regressor.fc1.weight"]).max() > 1e-5
    assert np.abs(final["model.encoder.conv1.weight"] - start["model.encoder.conv1.weight"]).max() > 1e-5


def test_eval_adapt_keeps_the_networks_numbers_and_adds_the_adapted_ones(tiny_data_dir, base, tmp_path):
    import eval as evaluation
    from model_utils.config import load_config

    def run(out, *extra):
        config = load_config(["--data_path", str(tiny_data_dir), "--output_path", str(out), *TINY,
                              "--checkpoint_file_path", base, "--eval_batch_size", "4", *extra])   # equal batches
        evaluation.main(config)
        return json.loads((out / "eval" / "metrics.json").read_text())

    plain = run(tmp_path / "plain")
    both = run(tmp_path / "adapted", "--adapt", "4", "--after_innerlr", "1e-6", "--adapt_tolerance", "0")
    assert both["adapt_steps"] == 4
    for key in ("mpjpe", "pa_mpjpe", "pve", "num_samples"):
        assert both[key] == pytest.approx(plain[key], abs=1e-3), key          # the network, not adapted
    adapted = both["adapted"]
    assert adapted["keypoints"] == "ground truth" and adapted["steps"] == 4 and adapted["steps_taken"] == 5
    assert adapted["num_samples"] == plain["num_samples"]
    assert adapted["keypoint_error_before"] > 0 and np.isfinite(adapted["keypoint_error_after"])
    assert adapted["mpjpe"] != pytest.approx(plain["mpjpe"], abs=1e-4)       # the weights did change


def test_adapt_needs_a_checkpoint_and_excludes_refine(tiny_data_dir, base, tmp_path):
    common = [sys.executable, "eval.py", "--data_path", str(tiny_data_dir), "--output_path", str(tmp_path), *TINY]
    for extra, expected in ((["--source", "onnx", "--model_file", str(tmp_path / "x.onnx"), "--adapt", "2"],
                             "--adapt changes the network's weights"),
                            (["--checkpoint_file_path", base, "--adapt", "2", "--fit_steps", "3"],
                             "--fit_steps and --adapt are two test-time methods")):
        result = subprocess.run(common + extra, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
        assert result.returncode != 0
        assert expected in result.stderr.strip().splitlines()[-1]


def test_compare_meta_job_writes_the_five_rows(tiny_data_dir, tmp_path):
    """The comparison job (scripts/run_compare_meta.sh) on tiny settings: one base run, two continued
    runs of the same length from it (with and without the inner step), five evaluations (3 refinement
    and adaptation steps instead of the job's 30 and 14)."""
    import mindspore as ms
    from model_utils.config import load_config
    from src.builders import build_smpl
    from src.main_job.compare_meta import ROWS, compare
    # eval batches of 4: the 8 test images in two equal batches, so each row's graphs compile once
    config = load_config(["--data_path", str(tiny_data_dir), "--output_path", str(tmp_path), *TINY, "--epochs", "1",
                          "--steps_per_epoch", "2", "--save_every", "2", "--encoder_lr", "1e-4",
                          "--eval_batch_size", "4"])
    ms.set_context(mode=ms.GRAPH_MODE)
    summary = compare(config, build_smpl(config), 2, {"fit_steps": 3, "adapt": 3})
    rows = summary["rows"]
    assert list(rows) == [label for label, _, _ in ROWS]
    assert all(row["num_samples"] == 8 and row["ms_per_image"] > 0 for row in rows.values())
    assert rows["plain"]["mpjpe"] != rows["meta-trained"]["mpjpe"]                # the inner step changed training
    assert rows["plain + adapt"]["mpjpe"] != rows["plain"]["mpjpe"]
    assert all(rows[k]["keypoint_error_px"] > 0 for k in rows)
    logs = {name: [json.loads(line) for line in (tmp_path / f"meta_{name}" / "train_log.jsonl").open()]
            for name in ("plain", "meta")}
    assert [r["step"] for r in logs["plain"]] == [r["step"] for r in logs["meta"]] == [0, 1]
    assert all(r["inner_total"] == 0 for r in logs["plain"]) and all(r["inner_total"] > 0 for r in logs["meta"])
    assert json.loads((tmp_path / "meta_vs_plain" / "summary.json").read_text())["rows"] == rows
