"""Mixed precision and loss scaling on the CPU: O2 follows O0, overflow skip, scale schedule, resume.

Tolerances. float16's unit roundoff is u = 2^-11 = 4.9e-4. The first step's losses come from
the same weights, so O2 differs from O0 only by float16 rounding inside the encoder and
regressor (a mean over many rounded terms; measured 6e-5 relative): bound 2u ~ 1e-3. After
that the weights differ by what rounding did to the updates; with Adam (updates ~ lr per weight
whatever the gradient's size) that stays at the per-mille level over a dozen steps on a fixed
batch (measured at most 0.63% for the encoder total): bound 2%.
"""
import json
import os

import numpy as np
import pytest

import mindspore as ms
from conftest import first_train_batch, stopped_copy, tiny_config
from src.checkpoints import structural_parameters
from src.training.loop import build_training, train

FP16_ROUNDOFF = 2.0 ** -11
STEPS = 12
COMMON = ("--epochs", "1", "--steps_per_epoch", str(STEPS), "--augment", "false")


@pytest.fixture(autouse=True)
def graph_mode():
    ms.set_context(mode=ms.GRAPH_MODE)
    yield
    ms.set_context(mode=ms.PYNATIVE_MODE)


def _setup(data, out, *extra):
    config = tiny_config(data, out, *COMMON, *extra)
    ms.set_seed(0)
    parts = build_training(config)
    return parts, first_train_batch(parts, config, with_noise=True)


def _run(parts, batch, steps):
    inputs, noise = batch
    return np.array([parts["step"](*inputs, noise).asnumpy() for _ in range(steps)])


@pytest.fixture(scope="module")
def o0_losses(tiny_data_dir, tmp_path_factory):
    """The float32 run without loss scaling: its step outputs (STEPS, 10) on the first batch, the
    reference of the O2 and the scaled runs."""
    ms.set_context(mode=ms.GRAPH_MODE)
    return _run(*_setup(tiny_data_dir, tmp_path_factory.mktemp("o0")), STEPS)


def _snapshot(cell):
    return {k: p.asnumpy().copy() for k, p in structural_parameters(cell).items()}


def test_o2_computes_the_encoder_in_float16_and_returns_float32(tiny_data_dir, tmp_path):
    parts, (inputs, noise) = _setup(tiny_data_dir, tmp_path, "--amp_level", "O2", "--loss_scale", "dynamic")
    model = parts["model"]
    images = inputs[0]
    assert model.encoder(images).dtype == ms.float16                 # the float16 part ...
    outputs = model(images, noise)
    assert all(o.dtype == ms.float32 for o in outputs)                # ... and float32 from SMPL on
    assert all(p.dtype == ms.float32 for p in model.trainable_params())   # float32 master weights
    plain, _ = _setup(tiny_data_dir, tmp_path / "plain")
    assert structural_parameters(model).keys() == structural_parameters(plain["model"]).keys()   # same checkpoint keys


def test_device_only_options_are_refused_on_the_cpu(tiny_data_dir, tmp_path):
    from model_utils.errors import UserInputError
    from src.builders import set_mindspore_context
    for option, words in ((("--jit_level", "O2"), "Ascend only"), (("--enable_graph_kernel", "true"), "for GPU")):
        with pytest.raises(UserInputError, match=words):
            set_mindspore_context(tiny_config(tiny_data_dir, tmp_path, *option))
    with pytest.raises(UserInputError, match="dataset_sink"):
        train(tiny_config(tiny_data_dir, tmp_path, *COMMON, "--dataset_sink", "true"))


def test_o2_losses_follow_o0(tiny_data_dir, tmp_path, o0_losses):
    o0 = o0_losses
    o2 = _run(*_setup(tiny_data_dir, tmp_path / "o2", "--amp_level", "O2", "--loss_scale", "dynamic"), STEPS)
    assert not o2[:, 9].any(), "no step overflows at the default scale"
    assert np.all(o2[:, 8] == 1024.0) and np.all(o0[:, 8] == 1.0)
    total_o0, total_o2 = o0[:, 0], o2[:, 0]
    assert total_o2[0] != total_o0[0], "O2 must actually compute in float16"
    assert abs(total_o2[0] / total_o0[0] - 1) < 2 * FP16_ROUNDOFF
    np.testing.assert_allclose(total_o2, total_o0, rtol=0.02)
    supervised = o2[:, 1:4].sum(1)
    assert supervised[-1] < 0.7 * supervised[0], supervised          # and O2 learns


@pytest.mark.parametrize("mode", ["dynamic", "fixed"])
def test_overflowing_steps_are_skipped_and_counted(tiny_data_dir, tmp_path, mode):
    """A scale of 2^40 makes float16 gradients overflow (float16 ends at 65504): the encoder's
    update is skipped (weights and Adam state unchanged; BatchNorm's running statistics move, as the forward
    ran, as under PyTorch's GradScaler), the discriminator still trains, and the dynamic scale halves each time
    (2^40, 2^39, 2^38); the fixed one stays."""
    parts, batch = _setup(tiny_data_dir, tmp_path, "--amp_level", "O2", "--loss_scale", mode,
                          "--loss_scale_value", str(2.0 ** 40))
    model, disc = _snapshot(parts["model"]), _snapshot(parts["disc"])
    moments = [p.asnumpy().copy() for p in parts["opt_e"].moment1]
    out = _run(parts, batch, 3)
    assert out[:, 9].tolist() == [1.0, 1.0, 1.0]
    expected = [2.0 ** 40, 2.0 ** 39, 2.0 ** 38] if mode == "dynamic" else [2.0 ** 40] * 3
    assert out[:, 8].tolist() == expected
    assert int(parts["scaler"].overflow_steps.asnumpy()) == 3
    after = _snapshot(parts["model"])
    weights = [k for k, p in structural_parameters(parts["model"]).items() if p.requires_grad]
    assert all(np.array_equal(model[k], after[k]) for k in weights)
    assert not np.array_equal(model["encoder.bn1.moving_mean"], after["encoder.bn1.moving_mean"])
    assert all(np.array_equal(m, p.asnumpy()) for m, p in zip(moments, parts["opt_e"].moment1))
    after_disc = _snapshot(parts["disc"])
    assert any(not np.array_equal(disc[k], after_disc[k]) for k in disc)


def test_dynamic_scale_grows_after_a_window_and_changes_nothing_else(tiny_data_dir, tmp_path, o0_losses):
    """float32 (O0), scale 4, window 2, factor 2: the scales used are 4, 4, 8, 8, 16; scaling by a
    power of two and back is exact, so the losses equal the unscaled run's (its first 5 steps) bit for bit."""
    plain = o0_losses[:5]
    scaled = _run(*_setup(tiny_data_dir, tmp_path / "scaled", "--loss_scale", "dynamic", "--loss_scale_value", "4",
                          "--loss_scale_window", "2"), 5)
    assert scaled[:, 8].tolist() == [4.0, 4.0, 8.0, 8.0, 16.0]
    assert not scaled[:, 9].any()
    np.testing.assert_array_equal(scaled[:, :8], plain[:, :8])


def _log(folder):
    with open(os.path.join(folder, "train_log.jsonl"), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def test_resume_restores_the_loss_scale_state(tiny_data_dir, tmp_path):
    """Start at 2^16 with window 2: the first steps overflow, the scale settles, grows, overflows
    again; resumed from its checkpoint of step 3, a run logs the same scales, skips and losses."""
    common = ("--epochs", "1", "--steps_per_epoch", "6", "--save_every", "3", "--amp_level", "O2",
              "--loss_scale", "dynamic", "--loss_scale_value", "65536", "--loss_scale_window", "2")
    ms.set_seed(0)
    full = train(tiny_config(tiny_data_dir, tmp_path / "full", *common))
    stopped_copy(tmp_path / "full" / "train", 3, tmp_path / "cut" / "train")
    ms.set_seed(123)
    resumed = train(tiny_config(tiny_data_dir, tmp_path / "cut", *common, "--resume", "true"))
    a, b = _log(tmp_path / "full" / "train"), _log(tmp_path / "cut" / "train")
    keys = ("step", "loss_scale", "overflow", "encoder_total", "discriminator_total")
    assert [[r[k] for k in keys] for r in a] == [[r[k] for k in keys] for r in b]
    assert any(r["overflow"] for r in a[:3]) and not all(r["overflow"] for r in a)
    assert len({r["loss_scale"] for r in a}) > 1
    assert full["overflow_steps"] == resumed["overflow_steps"] == sum(r["overflow"] for r in a)
