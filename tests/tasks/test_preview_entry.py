"""The body-model preview run as a user runs it: outputs, and one-line errors for bad input."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(*args):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "src.data.synthetic.preview", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def test_preview_builds_model_and_writes_outputs(tmp_path):
    data, out = tmp_path / "HMR_DATA", tmp_path / "out"
    result = _run("--data_path", str(data), "--output_path", str(out), "--preview_bodies", "3",
                  "--preview_image_size", "96")
    assert result.returncode == 0, result.stderr
    assert (data / "neutral_smpl_with_cocoplus_reg.pkl").is_file() and (data / "J_regressor_h36m.npy").is_file()
    summary = json.loads((out / "demo" / "summary.json").read_text())
    assert summary["synthetic"] is True and summary["body_model"]["synthetic"] is True
    assert summary["body_model"]["vertices"] == 6890 and summary["body_model"]["faces"] == 13776
    assert 1.55 < summary["body_model"]["rest_height_m"] < 1.95
    obj = (out / "demo" / "template.obj").read_text().splitlines()
    assert sum(line.startswith("v ") for line in obj) == 6890 and sum(line.startswith("f ") for line in obj) == 13776
    import cv2
    image = cv2.imread(str(out / "demo" / "bodies.png"))
    assert image.shape == (96, 3 * 96, 3)
    for panel in range(3):          # a body is drawn in every panel: not just background
        crop = image[:, panel * 96:(panel + 1) * 96]
        assert (crop != crop[0, 0]).any(axis=2).mean() > 0.03


def test_missing_model_file_is_one_line_error(tmp_path):
    result = _run("--smpl_model_path", str(tmp_path / "SMPL_NEUTRAL.pkl"), "--output_path", str(tmp_path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: SMPL model file not found") and "SMPL_NEUTRAL.pkl" in lines[-1]
    assert "Traceback" not in result.stderr


def test_unknown_option_is_one_line_error(tmp_path):
    result = _run("--preview_bodys", "3")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: command line: unknown option '--preview_bodys' "
                                                  "(see config.yaml for the keys)"]
