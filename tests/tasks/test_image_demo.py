"""demo.py on images: four files per image, an overlay that shows the body, boxes, bad images."""
import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = ["--backbone_depth", "18", "--backbone_width", "8", "--img_size", "64", "--num_workers", "1",
        "--progress_bar", "false"]


@pytest.fixture(scope="module")
def checkpoint(tiny_checkpoint):
    return tiny_checkpoint()[1]


def _demo(data, out, *extra):
    return subprocess.run([sys.executable, "demo.py", "--data_path", str(data), *TINY, "--out_folder", str(out),
                           *extra], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True,
                          timeout=600)


def test_demo_writes_four_files_and_an_overlay_of_the_body(tiny_data_dir, checkpoint, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    evaluation = dict(np.load(tiny_data_dir / "synthetic" / "synthetic_eval.npz"))
    for name in evaluation["imgname"][:2]:
        shutil.copy(tiny_data_dir / "synthetic" / name, images / os.path.basename(name))
    (images / "broken.jpg").write_bytes(b"not an image")
    result = _demo(tiny_data_dir, tmp_path / "out", "--img_folder", str(images), "--checkpoint_file_path", checkpoint)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "skipped 1 unreadable image(s)" in result.stderr and "broken.jpg" in result.stderr
    stem = os.path.splitext(os.path.basename(evaluation["imgname"][0]))[0]
    for suffix in (".npz", ".json", ".obj", "_overlay.png"):
        assert (tmp_path / "out" / (stem + suffix)).is_file(), suffix
    saved = np.load(tmp_path / "out" / f"{stem}.npz")
    assert saved["pose"].shape == (72,) and saved["betas"].shape == (10,) and saved["cam"].shape == (3,)
    assert saved["vertices"].shape == (6890, 3) and saved["joints"].shape == (19, 3)
    info = json.loads((tmp_path / "out" / f"{stem}.json").read_text())
    assert info["synthetic_body_model"] is True and len(info["camera_translation"]) == 3
    assert info["camera_translation"][2] > 0
    # the overlay: the input image where the mesh is not, something else where it is
    image = cv2.cvtColor(cv2.imread(str(images / os.path.basename(evaluation["imgname"][0]))), cv2.COLOR_BGR2RGB)
    overlay = cv2.cvtColor(cv2.imread(str(tmp_path / "out" / f"{stem}_overlay.png")), cv2.COLOR_BGR2RGB)
    height, width = image.shape[:2]
    assert overlay.shape == (height, 2 * width, 3)
    from src.render.rasterizer import render_mesh
    mask = np.full((height, width), -1, np.int32)
    faces = np.asarray(__import__("HMR").SMPL(str(tiny_data_dir / "neutral_smpl_with_cocoplus_reg.pkl")).faces)
    render_mesh(np.zeros_like(image), saved["vertices"] + saved["camera_translation"], faces, info["focal_length"],
                ((width - 1) / 2, (height - 1) / 2), face_ids=mask)
    body = mask >= 0
    changed = np.abs(overlay[:, :width].astype(int) - image.astype(int)).sum(-1) > 0
    assert body.sum() > 50
    assert changed[body].mean() > 0.9 and changed[~body].mean() < 0.01
    assert (overlay[:, width:] != 235).any(axis=-1).sum() > 50          # the side view shows a body


def test_given_box_and_exported_model(tiny_data_dir, checkpoint, tmp_path):
    """--bbox is used as given; --model runs an exported graph and agrees with the checkpoint."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "person.png"), image)
    export = subprocess.run([sys.executable, "export.py", "--data_path", str(tiny_data_dir), *TINY, "--output_path",
                             str(tmp_path), "--checkpoint_file_path", checkpoint], cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True, timeout=600)
    assert export.returncode == 0, export.stderr[-2000:]
    runs = {}
    for kind, extra in (("ckpt", ["--checkpoint_file_path", checkpoint]),
                        ("mindir", ["--model", str(tmp_path / "export" / "hmr.mindir")])):
        result = _demo(tiny_data_dir, tmp_path / kind, "--img", str(tmp_path / "person.png"), "--bbox", "0,0,64,64",
                       *extra)
        assert result.returncode == 0, result.stderr[-2000:]
        runs[kind] = np.load(tmp_path / kind / "person.npz")
        assert json.loads((tmp_path / kind / "person.json").read_text())["bbox_xywh"] == [0, 0, 64, 64]
    np.testing.assert_allclose(runs["mindir"]["vertices"], runs["ckpt"]["vertices"], atol=1e-4)
    bad = _demo(tiny_data_dir, tmp_path / "bad", "--img", str(tmp_path / "person.png"), "--bbox", "1,2,3")
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1] == (
        "error: --bbox: expected x,y,w,h with w, h > 0, got '1,2,3'")
    outside = _demo(tiny_data_dir, tmp_path / "outside", "--img", str(tmp_path / "person.png"), "--bbox",
                    "64,10,20,20", "--checkpoint_file_path", checkpoint)     # starts one pixel right of the image
    assert outside.returncode == 2 and outside.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'person.png'}: the box x,y,w,h = 64,10,20,20 lies wholly outside the 64x64 image"]
    assert not (tmp_path / "outside").exists()                           # nothing written
