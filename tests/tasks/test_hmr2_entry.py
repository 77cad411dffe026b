"""HMR 2.0 (a small ViT and decoder) end to end on the embedded default: it learns, resumes exactly
with AdamW, layer-wise decay and stochastic depth, exports (attention in ONNX and MINDIR) equal to
the checkpoint, and the demo places its mesh with HMR 2.0's full-image camera."""
import json

import numpy as np
import pytest

from conftest import stopped_copy

# ViT 4 blocks x 192 (3 heads) on 64 x 64 crops (the ViT sees 64 x 48: 4 x 3 tokens); a 2-layer decoder
HMR2 = ["--architecture", "hmr2", "--pose_head", "rot6d", "--backbone", "vit_b16", "--vit_width", "192",
        "--vit_depth", "4", "--vit_heads", "3", "--regressor_iterations", "1", "--decoder_depth", "2",
        "--decoder_width", "256", "--decoder_mlp_dim", "256", "--decoder_heads", "4", "--img_size", "64",
        "--image_normalization", "imagenet", "--batch_size", "16", "--num_workers", "1", "--progress_bar", "false",
        "--eval_batch_size", "8", "--eval_dataset", "synthetic/synthetic_eval.npz"]
TRAIN_STEPS = 100


def _config(data, out, *extra):
    from model_utils.config import load_config
    return load_config(["--data_path", str(data), "--output_path", str(out), *HMR2, *extra])


@pytest.fixture(scope="module")
def trained(tiny_data_dir, tmp_path_factory):
    """100 graph-mode steps (Adam 3e-4, cosine); the eval set's MPJPE before and after."""
    import mindspore as ms
    from src.builders import build_model, build_smpl, set_mindspore_context
    from src.evaluation.runner import evaluate_from_config
    from src.training.loop import train
    out = tmp_path_factory.mktemp("hmr2_run")
    config = _config(tiny_data_dir, out, "--epochs", "1", "--steps_per_epoch", str(TRAIN_STEPS), "--save_every",
                     str(TRAIN_STEPS), "--encoder_lr", "3e-4", "--lr_schedule", "cosine", "--warmup_steps", "20",
                     "--drop_path_rate", "0.1")
    set_mindspore_context(config)
    smpl = build_smpl(config)
    untrained = evaluate_from_config(config, smpl, build_model(config, smpl))
    result = train(config)
    ms.set_context(mode=ms.PYNATIVE_MODE)
    return {"out": out, "checkpoint": result["checkpoint"], "untrained": untrained, "losses": result["last_losses"]}


def test_hmr2_learns_on_the_embedded_default(trained, tiny_data_dir, tmp_path):
    import eval as evaluation
    summary = evaluation.main(_config(tiny_data_dir, tmp_path, "--checkpoint_file_path", trained["checkpoint"]))
    ratio = summary["mpjpe"] / trained["untrained"]["mpjpe"]
    assert all(np.isfinite(v) for v in trained["losses"].values())
    assert ratio <= 0.70, (summary["mpjpe"], trained["untrained"]["mpjpe"])


def _reference(data, out, checkpoint, images):
    import mindspore as ms
    from conftest import checkpoint_export_net
    net = checkpoint_export_net(_config(data, out), checkpoint)
    return [o.asnumpy() for o in net(ms.Tensor(images))]


@pytest.mark.parametrize("fmt", ["ONNX", "MINDIR"])
def test_exported_hmr2_equals_the_checkpoint(trained, tiny_data_dir, tmp_path, fmt):
    """Dynamic batch (0): the attention reshapes keep the batch free; ONNX checked at batches 1 and 3."""
    import mindspore as ms
    from mindspore import nn
    import export
    path = export.main(_config(tiny_data_dir, tmp_path, "--checkpoint_file_path", trained["checkpoint"],
                               "--file_format", fmt, "--export_batch_size", "0", "--onnx_twin", "false"))
    if fmt == "ONNX":
        import onnxruntime as ort
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        run = lambda images: session.run(None, {session.get_inputs()[0].name: images})
    else:
        graph = nn.GraphCell(ms.load(path))
        run = lambda images: [o.asnumpy() for o in graph(ms.Tensor(images))]
    for rows in (1, 3):
        images = np.random.default_rng(rows).normal(size=(rows, 3, 64, 64)).astype(np.float32)
        got = run(images)
        assert [o.shape for o in got] == [(rows, 85), (rows, 6890, 3), (rows, 19, 3), (rows, 19, 2)]
        for mine, want in zip(got, _reference(tiny_data_dir, trained["out"], trained["checkpoint"], images)):
            np.testing.assert_allclose(mine, want, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(want).max())))


def test_interrupted_hmr2_run_resumes_on_the_same_loss_curve(tiny_data_dir, tmp_path):
    """AdamW with layer-wise decay and stochastic depth driven by the data stream's noise: resuming
    from step 3 of 6 gives the uninterrupted run's losses exactly."""
    import mindspore as ms
    from src.training.loop import train
    steps = ["--epochs", "1", "--steps_per_epoch", "6", "--save_every", "3", "--optimizer", "adamw", "--layer_decay",
             "0.75", "--weight_decay", "1e-4", "--drop_path_rate", "0.5", "--batch_size", "4"]
    ms.set_seed(0)
    train(_config(tiny_data_dir, tmp_path / "full", *steps))
    stopped_copy(tmp_path / "full" / "train", 3, tmp_path / "cut" / "train")
    ms.set_seed(123)                                 # a resumed process does not share the first one's seed state
    train(_config(tiny_data_dir, tmp_path / "cut", *steps, "--resume", "true"))

    def losses(folder):
        rows = [json.loads(line) for line in (tmp_path / folder / "train" / "train_log.jsonl").read_text().splitlines()]
        return [{k: v for k, v in row.items() if k != "ms_per_step"} for row in rows]
    full, cut = losses("full"), losses("cut")
    assert [r["step"] for r in cut] == list(range(6))
    assert full == cut


def test_demo_places_the_mesh_with_hmr2s_camera(trained, tiny_data_dir, tmp_path):
    """The full-image translation is 4D-Humans' ``cam_crop_to_full`` with ``scaled_focal_length`` =
    5000 / 256 x max(H, W): t_z = 2 f / (b s) for the square box side b."""
    import cv2
    import demo
    frame = np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "person.png"), frame)
    demo.main(_config(tiny_data_dir, tmp_path, "--checkpoint_file_path", trained["checkpoint"], "--img",
                      str(tmp_path / "person.png"), "--bbox", "150,50,100,200", "--out_folder", str(tmp_path / "out")))
    record = json.loads((tmp_path / "out" / "person.json").read_text())
    assert record["focal_length"] == pytest.approx(5000 / 256 * 400)
    s = record["cam"][0]
    assert record["camera_translation"][2] == pytest.approx(2 * record["focal_length"] / (200 * s), rel=1e-4)
