"""HybrIK's exported graph (the seed system's inputs and twelve outputs) in every job that runs exported graphs -
eval.py's ``--source onnx``/``mindir``, the runner's ``.bin`` round trip (preprocess.py, the CPU fallback,
postprocess.py) and demo.py - against eval.py and demo.py on the checkpoint; and demo.py placing the mesh with
HybrIK's camera. The model: the small ResNet release of ``tests/reference/hybrik_release.py``, converted."""
import json
import os
import subprocess

import numpy as np
import pytest

from conftest import ROOT

EVAL_ARGS = ("--progress_bar", "false", "--eval_batch_size", "2", "--num_workers", "1")
METRICS = ("mpjpe", "pa_mpjpe", "pve")
SEED_OUTPUTS = 12


@pytest.fixture(scope="module")
def release(tiny_data_dir, tmp_path_factory):
    """(folder, config args, eval.py's summary on the checkpoint, the static-batch (2) MINDIR with its ONNX twin)."""
    import torch

    import eval as evaluation
    import export
    from model_utils.config import load_config
    from src.convert.convert import convert
    from tests.reference.hybrik_release import reference_model
    folder = tmp_path_factory.mktemp("hybrik_release")
    model = reference_model("resnet", np.random.default_rng(1).normal(0, 0.5, 10).astype(np.float32))
    torch.save(model.state_dict(), folder / "hybrik_res.pth")
    result = convert("hybrik", str(folder / "hybrik_res.pth"), str(folder / "hybrik.ckpt"))
    args = ["--config_path", result["config"], "--data_path", str(tiny_data_dir), *EVAL_ARGS]
    summary = evaluation.main(load_config(args + ["--output_path", str(folder / "ckpt")]))
    mindir = export.main(load_config(args + ["--output_path", str(folder), "--export_batch_size", "2"]))
    return folder, args, summary, mindir


def _same_metrics(got, want):
    assert got["num_samples"] == want["num_samples"] == 8
    for key in METRICS:
        assert abs(float(got[key]) - want[key]) < 0.1, (key, got[key], want[key])


def test_eval_on_the_exported_graph_equals_the_checkpoint(release):
    """eval.py on the ONNX graph's twelve outputs (decoded to meshes as the model's own outputs) scores as on the
    checkpoint, within 0.1 mm."""
    import eval as evaluation
    from model_utils.config import load_config
    folder, args, summary, mindir = release
    got = evaluation.main(load_config(args + ["--output_path", str(folder / "onnx"), "--source", "onnx",
                                              "--model_file", os.path.splitext(mindir)[0] + ".onnx"]))
    _same_metrics(got, summary)


def test_runner_round_trip_feeds_the_three_inputs_and_scores_as_eval_py(release, tiny_data_dir, tmp_path):
    """run_infer_310.sh on the CPU with the MINDIR itself (``--cpu_backend mindspore``): preprocess.py writes the
    crops, boxes and image centres, the fallback runner writes the twelve outputs per input file, postprocess.py's
    acc.log equals eval.py within 0.1 mm."""
    folder, _, summary, mindir = release
    result = subprocess.run(["bash", "scripts/run_infer_310.sh", mindir, "synthetic", str(tiny_data_dir), "0",
                             "--device", "cpu", "--cpu_backend", "mindspore", "--output_path", str(tmp_path / "out"),
                             *EVAL_ARGS],
                            cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    work = tmp_path / "out" / "infer"
    meta = json.loads((work / "preprocess_Result" / "preprocess.json").read_text())
    assert meta["inputs"] == ["images", "bbox", "image_center"] and len(meta["outputs"]) == SEED_OUTPUTS
    assert meta["input_shapes"] == [[3, 256, 256], [4], [2]]
    assert len(os.listdir(work / "result_Files")) == 4 * SEED_OUTPUTS                 # 8 samples, batch 2
    acc = dict(line.split(": ", 1) for line in (work / "acc.log").read_text().splitlines())
    _same_metrics({"num_samples": int(acc["num_samples"]), **{k: float(acc[k]) for k in METRICS}}, summary)


def _demo(folder, args, image, out, *extra):
    import demo
    from model_utils.config import load_config
    demo.main(load_config(args + ["--output_path", str(folder), "--img", str(image), "--bbox", "150,60,220,300",
                                  "--bbox_scale", "1.25", "--out_folder", str(out), *extra]))
    record = json.loads((out / "photo.json").read_text())
    with np.load(out / "photo.npz") as arrays:
        return record, dict(arrays)


def test_demo_places_the_mesh_with_hybriks_camera(release, tmp_path):
    """demo.py on a photograph with a box, from the checkpoint and from the ONNX graph: the same person; the
    overlay's camera is HybrIK's (focal 1000 / 256 of the square box's side, 1.25 x the given box's longer side),
    so the placed joints project onto the model's own 2D keypoints. The overlay's principal point is the image
    centre in pixel-centre coordinates, (W - 1) / 2, HybrIK's is W / 2: the placement moves the body by that half
    pixel at the root's depth z_root, so a joint at depth z lands 0.5 (1 - z_root / z) px from HybrIK's projection,
    exactly."""
    import cv2
    import skimage.data
    folder, args, _, mindir = release
    image = tmp_path / "photo.png"
    cv2.imwrite(str(image), cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR))        # 512 x 512
    record, arrays = _demo(folder, args, image, tmp_path / "ckpt")
    graph_record, graph_arrays = _demo(folder, args, image, tmp_path / "onnx", "--model_file",
                                       os.path.splitext(mindir)[0] + ".onnx")
    for key in ("pose", "betas", "camera_translation"):
        np.testing.assert_allclose(graph_record[key], record[key], rtol=1e-3, atol=1e-4, err_msg=key)
    np.testing.assert_allclose(graph_arrays["vertices"], arrays["vertices"], atol=1e-4)
    np.testing.assert_allclose(graph_arrays["keypoints2d"], arrays["keypoints2d"], atol=1e-2)
    assert record["focal_length"] == pytest.approx(1000.0 / 256.0 * 300 * 1.25)
    translation = arrays["camera_translation"].astype(np.float64)
    placed = arrays["joints"] + translation
    projected = record["focal_length"] * placed[:, :2] / placed[:, 2:] + (512.0 - 1) / 2
    np.testing.assert_allclose(projected + 0.5 * (1 - translation[2] / placed[:, 2:]), arrays["keypoints2d"],
                               atol=2e-3)
