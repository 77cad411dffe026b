"""Training: updates, learning on a fixed batch, checkpoints, exact resume, divergence, bad data."""
import json
import os
import shutil

import numpy as np
import pytest

import mindspore as ms
from conftest import first_train_batch, tiny_config
from model_utils.errors import TrainingDiverged
from src.checkpoints import (list_checkpoints, load_training_checkpoint, optimizer_state, save_training_checkpoint,
                            structural_parameters)
from src.data.sources import TRAIN_COLUMNS
from src.training.loop import build_training, train


@pytest.fixture(autouse=True)
def graph_mode():
    ms.set_context(mode=ms.GRAPH_MODE)
    yield
    ms.set_context(mode=ms.PYNATIVE_MODE)


def _snapshot(cell):
    return {k: p.asnumpy().copy() for k, p in structural_parameters(cell).items()}


def test_one_step_changes_encoder_and_discriminator(tiny_data_dir, tmp_path):
    config = tiny_config(tiny_data_dir, tmp_path, "--epochs", "1")
    ms.set_seed(0)
    parts = build_training(config)
    before_model, before_disc = _snapshot(parts["model"]), _snapshot(parts["disc"])
    batch, noise = first_train_batch(parts, config, with_noise=True)
    parts["step"](*batch, noise)
    after_model, after_disc = _snapshot(parts["model"]), _snapshot(parts["disc"])
    # the TF reference trains its mean theta with the encoder: tf.Variable(mean, trainable=True) in E_var
    for name in ("encoder.conv1.weight", "encoder.layer4.1.conv2.weight", "regressor.dec.weight",
                 "regressor.init_theta"):
        assert not np.array_equal(before_model[name], after_model[name]), name
    for name in ("joint_fc1.weight", "pose_out.weight", "shape_out.weight", "joint_head_weight"):
        assert not np.array_equal(before_disc[name], after_disc[name]), name
    # the model trains in training mode: BatchNorm normalised by the batch and moved its running statistics
    assert parts["model"].training and parts["model"].encoder.bn1.training
    for name in ("encoder.bn1.moving_mean", "encoder.layer4.1.bn2.moving_variance"):
        assert not np.array_equal(before_model[name], after_model[name]), name


def test_spin_head_keeps_its_mean_buffers_frozen(tiny_data_dir, tmp_path):
    config = tiny_config(tiny_data_dir, tmp_path, "--epochs", "1", "--pose_head", "rot6d")
    parts = build_training(config)
    before = _snapshot(parts["model"])
    parts["step"](*first_train_batch(parts, config), None)
    after = _snapshot(parts["model"])
    assert not np.array_equal(before["regressor.decpose.weight"], after["regressor.decpose.weight"])
    for name in ("regressor.init_pose", "regressor.init_shape", "regressor.init_cam"):
        assert np.array_equal(before[name], after[name]), name


class _RecordingDiscriminator(ms.nn.Cell):
    """Scores 0 for everything; keeps what it was shown (PYNATIVE only)."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def construct(self, rotmats, betas):
        self.seen.append((rotmats.asnumpy(), betas.asnumpy()))
        return ms.ops.zeros((rotmats.shape[0], 25), ms.float32)


def _tf_regressor_iterations(regressor, features, iterations):
    """The TF reference's loop in numpy: theta_{i+1} = theta_i + dec(relu(fc2(relu(fc1([f, theta_i])))))."""
    dense = {n: (p.asnumpy().astype(np.float64)) for n, p in regressor.parameters_and_names()}
    theta = np.repeat(dense["init_theta"], len(features), 0)
    out = []
    for _ in range(iterations):
        h = np.maximum(np.concatenate([features, theta], 1) @ dense["fc1.weight"].T + dense["fc1.bias"], 0)
        h = np.maximum(h @ dense["fc2.weight"].T + dense["fc2.bias"], 0)
        theta = theta + h @ dense["dec.weight"].T + dense["dec.bias"]
        out.append(theta)
    return out


def test_adversarial_prior_sees_every_iteration(tiny_data_dir, tmp_path):
    """TF HMR: the discriminator judges the rotations and shapes of all num_stage iterations
    (B x 3 fakes) against B x 3 mocap samples, in both the encoder's and its own loss."""
    from scipy.spatial.transform import Rotation
    from src.training.step import DiscriminatorLoss, EncoderLoss, HMRTrainStep
    ms.set_context(mode=ms.PYNATIVE_MODE)
    config = tiny_config(tiny_data_dir, tmp_path, "--epochs", "1")
    parts = build_training(config)
    recorder = _RecordingDiscriminator()
    step = HMRTrainStep(EncoderLoss(parts["model"], recorder, 60.0, 60.0, 60.0, 1.0), DiscriminatorLoss(recorder, 1.0),
                        parts["opt_e"], parts["opt_d"])
    batch = first_train_batch(parts, config)
    images = batch[TRAIN_COLUMNS.index("image")]
    size, iterations = config.batch_size, config.regressor_iterations
    features = parts["model"].encoder(images).asnumpy().astype(np.float64)    # batch statistics, as in the step
    expected = np.concatenate(_tf_regressor_iterations(parts["model"].regressor, features, iterations))
    step(*batch, None)
    fake_rotmats, fake_betas = recorder.seen[0]                  # encoder loss: every iteration's fakes
    assert fake_rotmats.shape == (iterations * size, 24, 3, 3) and fake_betas.shape == (iterations * size, 10)
    np.testing.assert_allclose(fake_betas, expected[:, 75:], atol=1e-4)
    want_rotmats = Rotation.from_rotvec(expected[:, 3:75].reshape(-1, 3)).as_matrix().reshape(-1, 24, 3, 3)
    np.testing.assert_allclose(fake_rotmats, want_rotmats, atol=1e-4)
    real_rotmats, real_betas = recorder.seen[1]                  # discriminator loss: reals, then fakes
    assert real_rotmats.shape == (iterations * size, 24, 3, 3) and real_betas.shape == (iterations * size, 10)
    mocap = np.load(tiny_data_dir / "synthetic" / "mocap.npz")
    rows = [int(np.argmin(np.abs(mocap["shape"] - b).sum(1))) for b in real_betas]
    np.testing.assert_allclose(real_betas, mocap["shape"][rows], atol=1e-6)          # real mocap samples
    assert len(set(rows)) == len(rows)                                                # all different
    np.testing.assert_allclose(recorder.seen[2][1], fake_betas, atol=1e-6)


def test_encoder_learns_from_the_2d_keypoint_loss_alone(tiny_data_dir, tmp_path):
    """Gradient flows from the 2D keypoints through SMPL and the regressor into the first conv."""
    config = tiny_config(tiny_data_dir, tmp_path, "--epochs", "1", "--joint3d_loss_weight", "0",
                         "--smpl_loss_weight", "0", "--adversarial_loss_weight", "0", "--train_dataset_ratios", "0,1")
    parts = build_training(config)
    batch = first_train_batch(parts, config)
    assert float(batch[TRAIN_COLUMNS.index("has_3d")].asnumpy().sum()) == 0            # 2D-only samples
    grad_fn = parts["step"].encoder_grad
    (_, total, kp, *_), grads = grad_fn(*batch[:TRAIN_COLUMNS.index("valid") + 1], None, ms.Tensor(1.0))
    assert float(kp.asnumpy()) > 0 and float(total.asnumpy()) == pytest.approx(60 * float(kp.asnumpy()), rel=1e-5)
    names = [p.name for p in parts["opt_e"].parameters]
    by_name = dict(zip(names, (g.asnumpy() for g in grads)))
    for name in ("encoder.conv1.weight", "regressor.fc1.weight", "regressor.dec.weight"):
        assert np.abs(by_name[name]).max() > 0, name


def test_loss_falls_on_a_fixed_batch(tiny_data_dir, tmp_path):
    config = tiny_config(tiny_data_dir, tmp_path, "--epochs", "1", "--steps_per_epoch", "12", "--augment", "false")
    ms.set_seed(0)
    parts = build_training(config)
    batch = first_train_batch(parts, config)
    losses = [parts["step"](*batch, None).asnumpy() for _ in range(12)]
    supervised = [l[1] * 60 + l[2] * 60 + l[3] * 60 for l in losses]       # the encoder's data terms
    assert supervised[-1] < 0.7 * supervised[0], supervised


def test_checkpoint_round_trip(tiny_data_dir, tmp_path):
    config = tiny_config(tiny_data_dir, tmp_path, "--epochs", "1")
    ms.set_seed(0)
    parts = build_training(config)
    batch = first_train_batch(parts, config)
    parts["step"](*batch, None)
    path = save_training_checkpoint(str(tmp_path / "ck"), 1, parts, keep=2)
    ms.set_seed(5)
    fresh = build_training(config)
    assert load_training_checkpoint(path, fresh) == 1
    for part in ("model", "disc"):
        a, b = _snapshot(parts[part]), _snapshot(fresh[part])
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    for opt in ("opt_e", "opt_d"):
        ids = [{id(p) for n in ("model", "disc") for p in setup[n].get_parameters()} for setup in (parts, fresh)]
        state, fresh_state = optimizer_state(parts[opt], ids[0]), optimizer_state(fresh[opt], ids[1])
        assert len(state) > 3 and len(state) == len(fresh_state)
        assert any(np.abs(p.asnumpy()).sum() > 0 for p in state)                 # moments were updated
        assert all(np.array_equal(p.asnumpy(), q.asnumpy()) for p, q in zip(state, fresh_state))
    assert int(fresh["opt_e"].global_step.asnumpy()) == int(parts["opt_e"].global_step.asnumpy()) == 1
    # the next step from either copy is identical
    out_a, out_b = parts["step"](*batch, None).asnumpy(), fresh["step"](*batch, None).asnumpy()
    np.testing.assert_array_equal(out_a, out_b)


def test_keeps_only_the_newest_checkpoints(tiny_data_dir, tmp_path):
    config = tiny_config(tiny_data_dir, tmp_path, "--epochs", "1")
    parts = build_training(config)
    for step in range(1, 5):
        save_training_checkpoint(str(tmp_path / "ck"), step, parts, keep=2)
    assert [s for s, _ in list_checkpoints(str(tmp_path / "ck"))] == [3, 4]
    assert not [f for f in os.listdir(tmp_path / "ck") if f.startswith(".tmp")]


def test_checkpoint_loads_when_the_page_cache_has_taken_the_free_memory(tiny_data_dir, tmp_path, monkeypatch):
    """MemFree near zero with plenty of MemAvailable (a machine that has written many files)."""
    config = tiny_config(tiny_data_dir, tmp_path, "--epochs", "1")
    parts = build_training(config)
    path = save_training_checkpoint(str(tmp_path / "ck"), 1, parts, keep=1)
    real_sysconf = os.sysconf
    monkeypatch.setattr(os, "sysconf", lambda name: 1 if name == "SC_AVPHYS_PAGES" else real_sysconf(name))
    with pytest.raises(Exception, match="available memory"):
        ms.load_checkpoint(path)                        # MindSpore 2.10's own check counts only free pages
    fresh = build_training(config)
    assert load_training_checkpoint(path, fresh) == 1
    a, b = _snapshot(parts["model"]), _snapshot(fresh["model"])
    assert all(np.array_equal(a[k], b[k]) for k in a)


def _log(folder):
    with open(os.path.join(folder, "train_log.jsonl"), encoding="utf-8") as handle:
        return {r["step"]: r for r in map(json.loads, handle)}


def test_resume_continues_the_loss_curve_exactly(tiny_data_dir, tmp_path):
    common = ("--epochs", "1", "--steps_per_epoch", "6", "--save_every", "2", "--num_workers", "2")
    ms.set_seed(0)
    train(tiny_config(tiny_data_dir, tmp_path / "full", *common))
    ms.set_seed(0)
    first = train(tiny_config(tiny_data_dir, tmp_path / "cut", *common, "--stop_after_steps", "3"))
    assert first["steps"] == 3 and first["checkpoint"].endswith("hmr-step00000003.ckpt")
    ms.set_seed(123)            # a resumed process does not share the first one's seed state
    resumed = train(tiny_config(tiny_data_dir, tmp_path / "cut", *common, "--resume", "true"))
    assert resumed["steps"] == 6
    a, b = _log(tmp_path / "full" / "train"), _log(tmp_path / "cut" / "train")
    assert sorted(a) == sorted(b) == list(range(6))
    for step in range(6):
        for key in ("encoder_total", "keypoint_2d", "joint_3d", "smpl_params", "discriminator_total"):
            assert a[step][key] == b[step][key], (step, key, a[step][key], b[step][key])


def test_existing_run_needs_resume(tiny_data_dir, tmp_path):
    from model_utils.errors import UserInputError
    common = ("--epochs", "1", "--steps_per_epoch", "2", "--save_every", "2")
    train(tiny_config(tiny_data_dir, tmp_path, *common))
    with pytest.raises(UserInputError, match="already holds checkpoints; pass --resume"):
        train(tiny_config(tiny_data_dir, tmp_path, *common))


def _copy_data(tiny_data_dir, tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(tiny_data_dir, folder)
    return folder


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tiny_data_dir, tmp_path):
    data = _copy_data(tiny_data_dir, tmp_path)
    npz = data / "synthetic" / "synthetic_3d_train.npz"
    arrays = dict(np.load(npz))
    arrays["S"][:, :, 0] = np.nan            # every 3D sample is poisoned
    np.savez(npz, **arrays)
    config = tiny_config(data, tmp_path / "out", "--epochs", "1", "--steps_per_epoch", "4", "--save_every", "1",
                         "--train_dataset_ratios", "0,1")
    first = train(config)                     # 2D-only batches: fine
    assert first["steps"] == 4
    config = tiny_config(data, tmp_path / "out", "--epochs", "2", "--steps_per_epoch", "4", "--save_every", "1",
                         "--train_dataset_ratios", "1,1", "--resume", "true")
    with pytest.raises(TrainingDiverged, match=r"non-finite loss at step 4: .*last good checkpoint: .*hmr-step00000004.ckpt"):
        train(config)
    assert [s for s, _ in list_checkpoints(str(tmp_path / "out" / "train"))][-1] == 4


def test_corrupt_image_is_skipped_and_counted(tiny_data_dir, tmp_path, caplog):
    import logging
    data = _copy_data(tiny_data_dir, tmp_path)
    names = np.load(data / "synthetic" / "synthetic_2d_train.npz")["imgname"]
    for name in names[:2]:
        (data / "synthetic" / name).write_bytes(b"\x00garbage")
    config = tiny_config(data, tmp_path / "out", "--epochs", "1", "--steps_per_epoch", "4", "--save_every", "4",
                         "--train_dataset_ratios", "1,1")
    with caplog.at_level(logging.WARNING):
        result = train(config)
    assert result["steps"] == 4 and result["skipped_samples"] >= 2
    assert "had unreadable images" in caplog.text


def test_resuming_a_finished_run_does_nothing(tiny_data_dir, tmp_path):
    common = ("--epochs", "1", "--steps_per_epoch", "2", "--save_every", "2")
    first = train(tiny_config(tiny_data_dir, tmp_path, *common))
    again = train(tiny_config(tiny_data_dir, tmp_path, *common, "--resume", "true"))
    assert again["steps"] == first["steps"] == 2 and again["checkpoint"] == first["checkpoint"]
