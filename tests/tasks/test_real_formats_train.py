"""Users' two data forms train without hand edits: a converted HMR_DATA folder and SPIN-style npz files."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np

from tests.fabricate import native_datasets as native

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = ["--backbone_depth", "18", "--backbone_width", "8", "--img_size", "64", "--batch_size", "4",
        "--num_workers", "2", "--progress_bar", "false", "--epochs", "1", "--steps_per_epoch", "3",
        "--translation_jitter", "0.05"]


def _run(*args):
    result = subprocess.run([sys.executable, *args], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _steps(out):
    with open(os.path.join(out, "train", "train_log.jsonl"), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def test_hmr_data_folder_converts_and_trains(tmp_path):
    from src.data.synthetic.write_model import write_body_model
    data = tmp_path / "HMR_DATA"
    write_body_model(str(data), seed=0)
    rng = np.random.default_rng(0)
    native.write_lsp(str(data), rng, images=True)
    native.write_h36m(str(data), rng, images=True)
    convert = _run("dataprocess.py", "--data_path", str(data), "--output_path", str(data / "npz"))
    assert "lsp_train" in convert.stderr and "h36m_train" in convert.stderr and "mocap" in convert.stderr
    result = _run("train.py", "--data_path", str(data), "--output_path", str(tmp_path / "out"), *TINY,
                  "--train_datasets", "npz/lsp_train.npz,npz/h36m_train.npz", "--train_dataset_ratios", "0.5,0.5",
                  "--mocap_dataset", "npz/mocap.npz")
    assert "unreadable" not in result.stderr
    assert [r["step"] for r in _steps(tmp_path / "out")] == [0, 1, 2]


def test_spin_npz_files_train_as_they_are(tmp_path):
    from src.data.synthetic.write_model import write_body_model
    data = tmp_path / "spin_data"
    write_body_model(str(data), seed=0)
    lsp_root = tmp_path / "lsp_dataset_original"                     # SPIN: images live with each dataset
    os.makedirs(lsp_root / "images")
    rng = np.random.default_rng(1)
    names = [f"images/im{i:04d}.jpg" for i in range(1, 9)]
    for name in names:
        native.write_image(str(lsp_root / name))
    extras = data / "dataset_extras"
    extras.mkdir()
    np.savez(extras / "lsp_dataset_original_train.npz", imgname=np.array(names), center=np.full((8, 2), 32.0),
             scale=np.full(8, 0.3), part=np.concatenate([rng.uniform(5, 60, (8, 24, 2)), np.ones((8, 24, 1))], 2))
    np.savez(data / "mosh_annot.npz", pose=rng.normal(0, 0.2, (20, 72)), shape=rng.normal(0, 1, (20, 10)))
    check = _run("dataprocess.py", "--data_path", str(data), "--output_path", str(tmp_path / "checked"))
    assert "accepted as is" in check.stderr
    result = _run("train.py", "--data_path", str(data), "--output_path", str(tmp_path / "out"), *TINY,
                  "--train_datasets", "dataset_extras/lsp_dataset_original_train.npz", "--train_dataset_ratios", "1",
                  "--train_image_roots", str(lsp_root), "--mocap_dataset", "mosh_annot.npz")
    assert "unreadable" not in result.stderr
    assert len(_steps(tmp_path / "out")) == 3
    shutil.rmtree(lsp_root / "images")                               # without the right root: every image missing
    missing = _run("train.py", "--data_path", str(data), "--output_path", str(tmp_path / "out2"), *TINY,
                   "--train_datasets", "dataset_extras/lsp_dataset_original_train.npz", "--train_dataset_ratios",
                   "1", "--train_image_roots", str(lsp_root), "--mocap_dataset", "mosh_annot.npz")
    assert "unreadable image" in missing.stderr and "12 sample(s) had unreadable images" in missing.stderr
