"""eval.py: one metric path for checkpoint, MINDIR, ONNX and runner result files; protocol errors."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = ["--backbone_depth", "18", "--backbone_width", "8", "--img_size", "64", "--batch_size", "4",
        "--num_workers", "1", "--progress_bar", "false", "--eval_batch_size", "3"]


def _config(data, out, *extra):
    from model_utils.config import load_config
    return load_config(["--data_path", str(data), "--output_path", str(out), *TINY, *extra])


@pytest.fixture(scope="module")
def exported(tiny_data_dir, tmp_path_factory):
    """A briefly trained checkpoint, its dynamic-batch MINDIR and a batch-3 ONNX graph."""
    import export
    from src.training.loop import train
    out = tmp_path_factory.mktemp("eval_run")
    checkpoint = train(_config(tiny_data_dir, out, "--epochs", "1", "--steps_per_epoch", "3", "--save_every", "3",
                               "--encoder_lr", "1e-3"))["checkpoint"]
    mindir = export.main(_config(tiny_data_dir, out, "--checkpoint_file_path", checkpoint))
    onnx = export.main(_config(tiny_data_dir, out, "--checkpoint_file_path", checkpoint, "--file_format", "ONNX",
                               "--export_batch_size", "3", "--file_name", str(out / "export" / "hmr_b3")))
    return {"out": out, "checkpoint": checkpoint, "mindir": mindir, "onnx": onnx}


def _eval(data, out, *extra):
    import eval as evaluation
    summary = evaluation.main(_config(data, out, *extra))
    on_disk = json.loads((out / "eval" / "metrics.json").read_text())
    assert on_disk["mpjpe"] == pytest.approx(summary["mpjpe"])
    return summary


@pytest.fixture(scope="module")
def ckpt_eval(exported, tiny_data_dir, tmp_path_factory):
    """eval.py on the checkpoint: the numbers every other source and runner must give."""
    return _eval(tiny_data_dir, tmp_path_factory.mktemp("ckpt_eval"), "--checkpoint_file_path",
                 exported["checkpoint"])


def test_every_backend_gives_the_same_numbers(exported, ckpt_eval, tiny_data_dir, tmp_path):
    ckpt = ckpt_eval
    assert ckpt["num_samples"] == 8 and ckpt["protocol"] == "synthetic" and ckpt["joint_set"] == "h36m14"
    assert 0 < ckpt["pa_mpjpe"] < ckpt["mpjpe"] < 2000 and ckpt["pve"] > 0
    assert ckpt["synthetic"] is True and os.path.isfile(ckpt["config"])
    for source in ("mindir", "onnx"):
        other = _eval(tiny_data_dir, tmp_path / source, "--source", source, "--model_file", exported[source])
        for key in ("mpjpe", "pa_mpjpe", "pve"):
            assert abs(other[key] - ckpt[key]) < 0.1, (source, key, other[key], ckpt[key])
        assert other["num_samples"] == 8
    lsp = _eval(tiny_data_dir, tmp_path / "lsp", "--checkpoint_file_path", exported["checkpoint"],
                "--eval_joint_set", "lsp14")
    assert lsp["joint_set"] == "lsp14" and lsp["mpjpe"] != ckpt["mpjpe"]


def test_runner_result_files_give_the_same_numbers(exported, ckpt_eval, tiny_data_dir, tmp_path):
    """preprocess.py -> the CPU fallback runner -> postprocess.py (acc.log) equals eval.py."""
    import postprocess
    import preprocess
    from src.deployment import infer_cpu
    ckpt = ckpt_eval
    work = tmp_path / "infer"
    meta = preprocess.main(_config(tiny_data_dir, tmp_path, "--infer_input_path", str(work / "preprocess_Result")))
    assert [len(b["indices"]) for b in meta["batches"]] == [3, 3, 2]
    assert os.path.getsize(work / "preprocess_Result" / "images" / "hmr_000002.bin") == 3 * 3 * 64 * 64 * 4
    for model, backend in (("mindir", "mindspore"), ("onnx", "auto")):
        results = work / f"result_{model}"
        infer_cpu.main(_config(tiny_data_dir, tmp_path, "--model_file", exported[model], "--infer_input_path",
                               str(work / "preprocess_Result"), "--result_path", str(results),
                               "--cpu_backend", backend))
        assert sorted(os.listdir(results))[:4] == [f"hmr_000000_{i}.bin" for i in range(4)]
        summary = postprocess.main(_config(tiny_data_dir, tmp_path / model, "--result_path", str(results),
                                           "--infer_input_path", str(work / "preprocess_Result")))
        assert abs(summary["mpjpe"] - ckpt["mpjpe"]) < 0.1 and abs(summary["pa_mpjpe"] - ckpt["pa_mpjpe"]) < 0.1
        acc = dict(line.split(": ", 1) for line in (tmp_path / model / "acc.log").read_text().splitlines())
        assert float(acc["mpjpe"]) == pytest.approx(summary["mpjpe"], abs=0.01) and acc["num_samples"] == "8"


def test_checkpoint_of_another_configuration_names_parameter_and_shapes(exported, tiny_data_dir, tmp_path):
    result = subprocess.run([sys.executable, "eval.py", "--data_path", str(tiny_data_dir), "--output_path",
                             str(tmp_path), *TINY, "--backbone_width", "16", "--checkpoint_file_path",
                             exported["checkpoint"]], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"error: {exported['checkpoint']}: model parameter 'encoder.conv1.weight' has shape "
                           "(8, 3, 7, 7) in the checkpoint, the model expects (16, 3, 7, 7)"), line
    assert "config.yaml" in line


def test_missing_test_file_names_protocol_and_path(tiny_data_dir, tmp_path):
    from model_utils.errors import UserInputError
    import eval as evaluation
    with pytest.raises(UserInputError, match=r"h36m-p2: test file not found; expected .*/h36m_valid_protocol2.npz or "
                                             r".*/npz/h36m_valid_protocol2.npz"):
        evaluation.main(_config(tiny_data_dir, tmp_path, "--dataset", "h36m-p2", "--checkpoint_file_path", "x"))
    from model_utils.config import ConfigError
    with pytest.raises(ConfigError, match=r"key 'dataset' must be one of h36m-p1, h36m-p2, mpi-inf-3dhp, 3dpw, "
                                          r"synthetic, synthetic-seq; got 'h36m'"):
        evaluation.main(_config(tiny_data_dir, tmp_path, "--dataset", "h36m", "--checkpoint_file_path", "x"))


def test_run_eval_script_picks_the_newest_checkpoint_and_its_config(exported, tiny_data_dir, tmp_path):
    """As users type it: no CKPT -> the newest checkpoint under the output folder, with its run's config."""
    out = exported["out"]
    result = subprocess.run(["bash", "scripts/run_eval.sh", str(tiny_data_dir), "--output_path", str(out),
                             "--progress_bar", "false"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"evaluating the newest checkpoint {exported['checkpoint']}" in result.stderr
    assert "with its run's configuration" in result.stderr          # backbone 18 x 8 at 64 px, not config.yaml's
    metrics = json.loads((out / "eval" / "metrics.json").read_text())
    assert metrics["checkpoint"] == exported["checkpoint"] and metrics["num_samples"] == 8
    bad = subprocess.run(["bash", "scripts/run_eval.sh", str(tmp_path / "nowhere")], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.splitlines()[0] == f"error: DATA_PATH is not a folder: {tmp_path}/nowhere"


def test_run_infer_310_on_cpu_matches_eval(exported, ckpt_eval, tiny_data_dir, tmp_path):
    """The user's command without Ascend: preprocess -> CPU fallback runner -> postprocess -> acc.log."""
    ckpt = ckpt_eval
    result = subprocess.run(["bash", "scripts/run_infer_310.sh", exported["mindir"], "synthetic", str(tiny_data_dir),
                             "0", "--output_path", str(tmp_path / "out"), "--progress_bar", "false"],
                            cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "device cpu (detected" in result.stderr
    assert "through its ONNX twin" in result.stderr                    # the CPU fallback's fast path
    acc = dict(line.split(": ", 1) for line in (tmp_path / "out" / "infer" / "acc.log").read_text().splitlines())
    assert acc["protocol"] == "synthetic" and acc["num_samples"] == "8"
    assert abs(float(acc["mpjpe"]) - ckpt["mpjpe"]) < 0.1 and abs(float(acc["pa_mpjpe"]) - ckpt["pa_mpjpe"]) < 0.1
    usage = subprocess.run(["bash", "scripts/run_infer_310.sh"], cwd=ROOT, capture_output=True, text=True)
    assert usage.returncode == 2 and usage.stderr.startswith("usage: bash scripts/run_infer_310.sh MINDIR")


def test_run_infer_310_on_ascend_refuses_a_dynamic_batch_graph(exported, tmp_path):
    """The 310 runner binds one input shape: a dynamic-batch export is refused with the command to run."""
    result = subprocess.run(["bash", "scripts/run_infer_310.sh", exported["mindir"], "synthetic", "--device", "ascend",
                             "--output_path", str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {exported['mindir']} has a dynamic batch; the Ascend 310 runner needs a static one: "
        f"python export.py --checkpoint_file_path {exported['checkpoint']} --export_batch_size 1")
    assert not (tmp_path / "out").exists()


def test_refinement_on_ground_truth_keypoints_lowers_the_errors(exported, ckpt_eval, tiny_data_dir, tmp_path):
    """eval.py --fit_steps N: the fit to the dataset's 2D keypoints improves PA-MPJPE and the reprojection;
    the network's own numbers stay under the plain keys, the fit's go under ``refined``."""
    plain = ckpt_eval
    both = _eval(tiny_data_dir, tmp_path / "refined", "--checkpoint_file_path", exported["checkpoint"],
                 "--fit_steps", "60")
    assert both["refine_steps"] == 60 and both["num_samples"] == plain["num_samples"]
    for key in ("mpjpe", "pa_mpjpe", "pve"):
        assert both[key] == pytest.approx(plain[key], abs=1e-3), key            # the network, unrefined
    refined = both["refined"]
    assert refined["keypoints"] == "ground truth" and refined["steps"] == 60
    assert refined["num_samples"] == plain["num_samples"]
    assert refined["reprojection_after"] < 0.6 * refined["reprojection_before"]
    assert refined["pa_mpjpe"] < plain["pa_mpjpe"]


def test_int8_onnx_is_quantised_and_evaluates_within_1mm_of_float(exported, tiny_data_dir, tmp_path):
    """export.py --quantize int8: a QDQ graph with per-channel int8 convolution weights (SMPL left
    float), calibrated on the evaluation crops; eval.py on it is within 1 mm of the float ONNX."""
    import export
    import numpy as np
    import onnx
    from onnx import numpy_helper
    base = str(tmp_path / "export" / "hmr")
    onnx_file = export.main(_config(tiny_data_dir, tmp_path, "--checkpoint_file_path", exported["checkpoint"],
                                    "--file_format", "ONNX", "--file_name", base, "--quantize", "int8",
                                    "--quantize_calibration_samples", "6"))
    quantized = base + "_int8.onnx"
    info = json.loads(open(quantized + ".json").read())
    assert info["quantized"] == "int8" and info["calibration_samples"] == 6 and info["batch"] is None
    graph = onnx.load(quantized).graph
    ops = [n.op_type for n in graph.node]
    assert "BatchNormalization" not in ops                      # folded into the convolutions first
    weights = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    conv_weights = [n.input[1] for n in graph.node if n.op_type == "Conv"]
    float_convs = sum(n.op_type == "Conv" for n in onnx.load(onnx_file).graph.node)
    assert len(conv_weights) == float_convs
    producers = {n.output[0]: n for n in graph.node}
    for name in conv_weights:                                   # every conv weight: int8, one scale per channel
        dq = producers[name]
        assert dq.op_type == "DequantizeLinear"
        assert weights[dq.input[0]].dtype == np.int8
        assert weights[dq.input[1]].shape == (weights[dq.input[0]].shape[0],)
    for node in graph.node:                                     # SMPL and the regressor stay float
        if node.op_type in ("MatMul", "Gemm"):
            assert all(producers.get(i) is None or producers[i].op_type != "DequantizeLinear" for i in node.input)
    floats = _eval(tiny_data_dir, tmp_path / "float", "--source", "onnx", "--model_file", onnx_file)
    int8 = _eval(tiny_data_dir, tmp_path / "int8", "--source", "onnx", "--model_file", quantized)
    assert int8["num_samples"] == floats["num_samples"] == 8
    for key in ("mpjpe", "pa_mpjpe"):
        assert abs(int8[key] - floats[key]) < 1.0, (key, int8[key], floats[key])
    assert int8["mpjpe"] != floats["mpjpe"]                     # it is not the float graph
