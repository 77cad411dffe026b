"""HybrIK's training: its targets against independent computations (scipy's rotations, a hand-made camera),
its Laplace loss by hand, and the training loop on the embedded default's tiny data (runs, resumes exactly)."""
import json
import math

import mindspore as ms
import numpy as np
import pytest
from conftest import stopped_copy, tiny_config

HYBRIK_ARGS = ("--architecture", "hybrik", "--pose_head", "twist", "--backbone", "hybrik_resnet",
               "--image_normalization", "hybrik")
CHILDREN = [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 27, 28, 15, 16, 17, 24, 18, 19, 20, 21, 22, 23, 25, 26]


def test_twist_angles_are_the_swing_twist_split_of_the_pose():
    """The twist about each rest bone, against scipy: the swing turning the bone onto R bone, the twist the
    remainder (a rotation about the bone)."""
    from scipy.spatial.transform import Rotation
    from src.training.hybrik_step import twist_angles
    rng = np.random.default_rng(0)
    rest = rng.normal(0, 0.3, (2, 29, 3))
    rotmats = Rotation.from_rotvec(rng.normal(0, 0.8, (48, 3))).as_matrix().reshape(2, 24, 3, 3)
    got = twist_angles(ms.Tensor(rotmats.astype(np.float32)), ms.Tensor(rest.astype(np.float32))).asnumpy()
    want = np.zeros((2, 23, 2))
    for b in range(2):
        for i in range(1, 24):
            bone = rest[b, CHILDREN[i]] - rest[b, i]
            turned = rotmats[b, i] @ bone
            axis = np.cross(bone, turned)
            swing = Rotation.from_rotvec(axis / np.linalg.norm(axis) * math.atan2(np.linalg.norm(axis), bone @ turned))
            angle = (swing.inv() * Rotation.from_matrix(rotmats[b, i])).as_rotvec() @ bone / np.linalg.norm(bone)
            want[b, i - 1] = math.cos(angle), math.sin(angle)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_fit_translation_recovers_the_camera_of_exact_projections():
    """Points seen by HybrIK's pinhole (focal 1000 px at 256 px, principal point at the image centre) from a
    known translation, in a crop 0.3 crop sides right of the image centre: the fit returns that translation;
    hidden points (weight 0) may be anywhere."""
    from src.training.hybrik_step import fit_translation
    rng = np.random.default_rng(1)
    points = rng.normal(0, 0.4, (1, 12, 3))
    translation = np.array([0.35, -0.2, 5.0])
    offset = np.array([[[0.3, -0.1]]])
    placed = points + translation
    uv = 1000.0 / 256.0 * placed[..., :2] / placed[..., 2:] - offset
    weight = np.ones((1, 12, 1))
    uv[0, 3], weight[0, 3] = [5.0, -7.0], 0.0
    got, det = fit_translation(*(ms.Tensor(a.astype(np.float32)) for a in (points, uv, weight, offset)))
    np.testing.assert_allclose(got.asnumpy()[0], translation, rtol=1e-4)
    assert det.asnumpy()[0, 0] > 0


def test_laplace_loss_by_hand():
    from src.training.hybrik_step import laplace_nll
    pred = np.array([[[0.1, 0.2, 0.0], [0.0, 0.0, 0.3]]], np.float32)
    target = np.array([[[0.0, 0.2, 0.1], [0.5, 0.5, 0.5]]], np.float32)
    sigma = np.array([[[0.1], [0.2]]], np.float32)
    weight = np.array([[[1, 1, 0], [0, 0, 1]]], np.float32)
    amp = 1 / math.sqrt(2 * math.pi)
    terms = [math.log(0.1 / amp) + 0.1 / (math.sqrt(2) * 0.1 + 1e-5), math.log(0.1 / amp),
             math.log(0.2 / amp) + 0.2 / (math.sqrt(2) * 0.2 + 1e-5)]
    got = laplace_nll(*(ms.Tensor(a) for a in (pred, sigma, target, weight))).asnumpy()
    assert got == pytest.approx(sum(terms) / 3, rel=1e-5)
    assert laplace_nll(*(ms.Tensor(a) for a in (pred, sigma, target, weight * 0))).asnumpy() == 0.0


def _log(folder):
    with open(folder / "train_log.jsonl", encoding="utf-8") as handle:
        return {r["step"]: r for r in map(json.loads, handle)}


def test_training_runs_and_resumes_exactly(tiny_data_dir, tmp_path):
    """HybrIK trains on the embedded default (3D samples with SMPL and 2D-only ones), every term finite and the
    targets present; a copy of the run stopped at step 2 (``stopped_copy``) and resumed logs the losses of the
    uncut run and ends with its weights. In PyNative mode: half the time of compiling the graphs here (graph mode
    resumes as exactly: the same test with ``--graph_mode true``, run by hand)."""
    from src.training.loop import train
    common = HYBRIK_ARGS + ("--epochs", "1", "--steps_per_epoch", "4", "--save_every", "2", "--graph_mode", "false")
    ms.set_seed(0)
    train(tiny_config(tiny_data_dir, tmp_path / "full", *common))
    stopped_copy(tmp_path / "full" / "train", 2, tmp_path / "cut" / "train")
    ms.set_seed(5)
    assert train(tiny_config(tiny_data_dir, tmp_path / "cut", *common, "--resume", "true"))["steps"] == 4
    full, cut = _log(tmp_path / "full" / "train"), _log(tmp_path / "cut" / "train")
    for step in range(4):
        for key in ("total", "uvd", "betas", "theta", "twist", "camera_scale"):
            assert np.isfinite(full[step][key]), (step, key)
            # a logged term may differ in its last float32 bit between processes (measured once: the uvd term of
            # the first resumed step); the weights may not
            assert cut[step][key] == pytest.approx(full[step][key], rel=1e-6, abs=1e-9), (step, key)
    assert all(full[s]["theta"] > 0 and full[s]["twist"] > 0 for s in range(4))
    weights = [_parameters(tmp_path / run / "train") for run in ("full", "cut")]
    assert weights[0].keys() == weights[1].keys()
    for name, value in weights[0].items():
        np.testing.assert_array_equal(weights[1][name], value, err_msg=name)


def _parameters(folder):
    """{name: array} of every tensor in a run folder's step-4 checkpoint (the model, optimiser and scaler)."""
    checkpoint = sorted(folder.glob("*step00000004.ckpt"))[-1]
    return {k: v.asnumpy() for k, v in ms.load_checkpoint(str(checkpoint)).items() if hasattr(v, "asnumpy")}


def test_multistep_schedule_follows_pytorch_multisteplr():
    """HybrIK's MultiStepLR (gamma 0.1 at its milestones), stepped per iteration here, against PyTorch's."""
    import torch
    from src.training.lr_schedule import build_lr_schedule
    got = build_lr_schedule("multistep", 1e-3, 30, decay_rate=0.1, milestones=[12, 24])
    optimizer = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=1e-3)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, [12, 24], gamma=0.1)
    want = []
    for _ in range(30):
        want.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_recipes_are_valid_configs():
    """HybrIK's two recipe files load as configs and describe its releases' training."""
    from model_utils.config import load_config
    for name, milestones, batch in (("hybrik_hrnet48.yaml", [60, 80], 36), ("hybrik_res34.yaml", [90, 120], 32)):
        config = load_config(["--config_path", f"src/training/recipes/{name}"])
        assert (config.architecture, config.lr_schedule, config.encoder_lr) == ("hybrik", "multistep", 1e-3)
        assert (config.lr_milestone_epochs, config.epochs, config.batch_size) == (milestones, 200, batch)


FP16_ROUNDOFF = 2.0 ** -11


def _steps(tiny_data_dir, folder, steps, *extra):
    """(the model, the step outputs (steps, 8) on the first batch, repeated) of a fresh HybrIK training."""
    from src.data.sources import TRAIN_COLUMNS
    from src.training.loop import build_training
    config = tiny_config(tiny_data_dir, folder, *HYBRIK_ARGS, "--epochs", "1", "--steps_per_epoch", str(steps),
                         "--augment", "false", "--graph_mode", "false", *extra)
    ms.set_seed(0)
    parts = build_training(config)
    columns = [np.stack(c) for c in zip(*[parts["source"][p] for p in range(config.batch_size)])]
    inputs = [ms.Tensor(c) for c in columns[:len(TRAIN_COLUMNS)]]
    noise = ms.Tensor(np.ascontiguousarray(columns[-1].transpose(1, 2, 0, 3)))
    extra_inputs = [ms.Tensor(c) for c in columns[len(TRAIN_COLUMNS):-1]]          # bbox, image_center
    return parts["model"], np.array([parts["step"](*inputs, noise, *extra_inputs).asnumpy() for _ in range(steps)])


def test_o2_runs_the_network_in_float16_and_follows_o0(tiny_data_dir, tmp_path):
    """``--amp_level O2 --loss_scale dynamic`` as for HMR: the backbone and heads in float16, the integral, camera
    and IK in float32; the first step's loss within 8 float16 roundoffs of the float32 run's (the same weights;
    HMR's bound is 2: there the loss averages many rounded terms, here each joint's heatmap logits are rounded to
    float16 before the softmax over its 64 x 64 x 64 volume and the (u, v, d) error enters the Laplace term
    divided by sigma; measured 3.7), the next ones within 2% (as HMR's; measured 0.5% at step 3), no overflow.
    At learning rate 1e-4: at the tiny config's 1e-3 Adam overshoots on the fixed batch (the loss rises after
    the first step), and there the float32 and float16 runs part by 27% in one step."""
    steps, lr = 3, ("--encoder_lr", "1e-4")
    _, o0 = _steps(tiny_data_dir, tmp_path / "o0", steps, *lr)
    model, o2 = _steps(tiny_data_dir, tmp_path / "o2", steps, *lr, "--amp_level", "O2", "--loss_scale", "dynamic")
    images = ms.Tensor(np.zeros((1, 3, 64, 64), np.float32))
    assert all(o.dtype == ms.float16 for o in model.encoder(images))
    assert all(p.dtype == ms.float32 for p in model.trainable_params())
    assert not o2[:, 7].any() and np.all(o2[:, 6] == 1024.0) and np.all(o0[:, 6] == 1.0)
    assert o2[0, 0] != o0[0, 0], "O2 must actually compute in float16"
    assert abs(o2[0, 0] / o0[0, 0] - 1) < 8 * FP16_ROUNDOFF
    np.testing.assert_allclose(o2[:, 0], o0[:, 0], rtol=0.02)
    assert o2[-1, 0] < 0.7 * o2[0, 0]                                                   # and O2 learns


def test_gradient_clipping_is_torchs_per_parameter_clip_in_graph_mode():
    """``clip_each`` compiled in graph mode on 1200 gradients (HRNet-W48 has ~1900 parameters; a Python loop
    there passed MindSpore's call-depth limit) equals ``torch.nn.utils.clip_grad_norm_`` applied to each, as
    HybrIK clips."""
    import torch
    from mindspore import nn
    from src.training.hybrik_step import clip_each

    class Clip(nn.Cell):
        def construct(self, limit, *grads):
            return clip_each(grads, limit)

    rng = np.random.default_rng(3)
    grads = [rng.normal(0, rng.choice([0.01, 1.0, 10.0]), rng.integers(1, 6, rng.integers(1, 4))).astype(np.float32)
             for _ in range(1200)]
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        got = Clip()(ms.Tensor(5.0, ms.float32), *(ms.Tensor(g) for g in grads))
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)
    clipped = 0
    for mine, grad in zip(got, grads):
        parameter = torch.nn.Parameter(torch.zeros(grad.shape))
        parameter.grad = torch.tensor(grad)
        clipped += float(torch.nn.utils.clip_grad_norm_(parameter, 5.0)) > 5.0
        np.testing.assert_allclose(mine.asnumpy(), parameter.grad.numpy(), rtol=1e-5, atol=1e-7)
    assert 100 < clipped < 1100                                                     # both branches taken
