"""EHGFormer's training recipe: its loss against MeshLoss's formulas (numpy, scipy), its flips by hand, and its
steps (AdamW, per-epoch decay) on a small network."""
import numpy as np

import mindspore as ms

SMALL = {"dim": 16, "depth": 1, "heads": 2, "hidden": 16}


def _refiner(smpl):
    from HMR.temporal.ehgformer import EHGFormerRefiner
    from HMR.temporal.ehgformer_backbone import read_joint_labels
    return EHGFormerRefiner(smpl, read_joint_labels("manual1"), **SMALL)


def _batch(n=2, t=6, seed=0):
    from scipy.spatial.transform import Rotation
    rng = np.random.default_rng(seed)
    pose2d = rng.uniform(-1, 1, (n, t, 17, 3)).astype(np.float32)
    theta = rng.normal(0, 0.4, (n, t, 72)).astype(np.float32)
    shape = rng.normal(0, 1, (n, t, 10)).astype(np.float32)
    gt_theta = theta + rng.normal(0, 0.1, theta.shape).astype(np.float32)
    gt_rotmats = Rotation.from_rotvec(gt_theta.reshape(-1, 3)).as_matrix().reshape(n, t, 24, 9).astype(np.float32)
    gt_joints = rng.normal(0, 300, (n, t, 17, 3)).astype(np.float32)
    gt_shape = rng.normal(0, 1, (n, t, 10)).astype(np.float32)
    return [pose2d, theta, shape, gt_rotmats, gt_joints, gt_shape]


def test_loss_is_meshloss(smpl):
    """``0.5 MPJPE + 10 velocity + 1000 pose + 1 shape + 20 norm`` recomputed in numpy from the refiner's
    outputs as EHGFormer's MeshLoss (loss type L1) defines the terms (axis-angle from scipy)."""
    from scipy.spatial.transform import Rotation

    from src.training.ehgformer_recipe import loss_cell
    refiner = _refiner(smpl)
    refiner.set_train(False)
    batch = _batch()
    got = np.array([v.asnumpy() for v in loss_cell(refiner)(*map(ms.Tensor, batch))])
    rot, shape, _, joints = (o.asnumpy().astype(np.float64) for o in refiner(*map(ms.Tensor, batch[:3])))
    _, _, _, gt_rotmats, gt_joints, gt_shape = batch
    local, gt_local = joints - joints[:, :, :1], gt_joints - gt_joints[:, :, :1]
    mpjpe = np.linalg.norm(local - gt_local, axis=-1).mean()
    velocity = np.linalg.norm(np.diff(local, axis=1) - np.diff(gt_local, axis=1), axis=-1).mean()
    pose = np.abs(rot - gt_rotmats).mean()
    shape_term = np.abs(shape - gt_shape).mean()
    axis_angle = Rotation.from_matrix(rot.reshape(-1, 3, 3)).as_rotvec().reshape(rot.shape[0], rot.shape[1], 72)
    norm = np.linalg.norm(np.concatenate([axis_angle, shape], -1), axis=-1).mean()
    total = 0.5 * mpjpe + 10 * velocity + 1000 * pose + shape_term + 20 * norm
    np.testing.assert_allclose(got, [total, mpjpe, velocity, pose, shape_term, norm], rtol=1e-4)


def test_flips_mirror_the_input_and_the_pose():
    """Hand cases of EHGFormer's flips: 2D x negated with left/right joints swapped (H36M: hips, knees, ankles
    1-3 <-> 4-6, shoulders, elbows, wrists 11-13 <-> 14-16); ``flip_thetas``: SMPL joints swapped (1 <-> 2,
    ..., 22 <-> 23), y and z negated."""
    from src.training.ehgformer_recipe import flip_pose2d, flip_theta
    pose2d = np.arange(17 * 3, dtype=np.float32).reshape(1, 17, 3)
    flipped = flip_pose2d(pose2d)
    np.testing.assert_array_equal(flipped[0, 1], [-12.0, 13.0, 14.0])          # joint 4 moved to 1, x negated
    np.testing.assert_array_equal(flipped[0, 16], [-39.0, 40.0, 41.0])         # joint 13 moved to 16
    np.testing.assert_array_equal(flipped[0, 0], [-0.0, 1.0, 2.0])
    theta = np.zeros((1, 72), np.float32)
    theta[0, 3:6] = (0.1, 0.2, 0.3)                                            # joint 1
    theta[0, 66:69] = (0.4, 0.5, 0.6)                                          # joint 22
    out = flip_theta(theta).reshape(24, 3)
    np.testing.assert_allclose(out[2], [0.1, -0.2, -0.3])
    np.testing.assert_allclose(out[23], [0.4, -0.5, -0.6])
    assert not out[1].any() and not out[22].any()
    np.testing.assert_array_equal(flip_theta(flip_theta(theta)), theta)


def test_recipe_steps_decay_per_epoch_and_fit_a_batch(smpl):
    """Clips on the stride-8 grid; learning rates x0.98 per epoch of stride-8 clips; flips drawn per clip from
    the step; AdamW steps on one batch lower the loss."""
    from types import SimpleNamespace

    from mindspore import ops

    from src.training.ehgformer_recipe import Recipe, clips_per_epoch, epoch_learning_rates
    from src.training.temporal import ClipSampler, ground_truth
    groups = [np.arange(0, 40), np.arange(40, 64)]
    assert clips_per_epoch(groups, 16) == 4 + 2
    config = SimpleNamespace(ehgformer_lr=1e-3, ehgformer_lr_decay=0.5, ehgformer_epoch_clips=0,
                             temporal_batch_size=4, temporal_steps=5, ehgformer_weight_decay=0.01, seed=3)
    np.testing.assert_allclose(epoch_learning_rates(config, 5, groups, 16), [1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4])
    starts = {row[0] % 40 if row[0] < 40 else row[0] - 40 for step in range(30)
              for row in ClipSampler(groups, 16, 0, 8).batch(step, 4)}
    assert starts <= {0, 8, 16, 24} and len(starts) > 1

    refiner = _refiner(smpl)
    n = 64
    rng = np.random.default_rng(1)
    data = {"pose": rng.normal(0, 0.3, (n, 72)).astype(np.float32),
            "shape": rng.normal(0, 1, (n, 10)).astype(np.float32)}
    rotmats, joints, _ = ground_truth(smpl, data["pose"], data["shape"])
    arrays = {"pose2d": rng.uniform(-1, 1, (n, 17, 3)).astype(np.float32), "theta": data["pose"] + 0.05,
              "shape": data["shape"], "gt_rotmats": rotmats, "gt_joints": joints, "data": data}
    recipe = Recipe(config, smpl, refiner, arrays, groups, 16, 1e-3)
    rows = ClipSampler(groups, 16, 0, 8).batch(0, 4)
    first, again = recipe.batch(rows, 7), recipe.batch(rows, 7)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert [a.shape for a in first] == [(4, 16, 17, 3), (4, 16, 72), (4, 16, 10), (4, 16, 24, 9), (4, 16, 17, 3),
                                        (4, 16, 10)]
    plain = np.array([np.array_equal(first[0][i], arrays["pose2d"][rows[i]]) for i in range(4)])
    for i in range(4):
        if plain[i]:        # as given, the ground truth in mm
            np.testing.assert_allclose(first[4][i], 1e3 * joints[rows[i]], rtol=1e-6)
        else:               # mirrored: x negated, the left/right joints swapped
            np.testing.assert_array_equal(first[0][i][:, 1, 0], -arrays["pose2d"][rows[i]][:, 4, 0])
    flips = [~np.array([np.array_equal(recipe.batch(rows, step)[0][i], arrays["pose2d"][rows[i]]) for i in range(4)])
             for step in range(20)]
    assert 0.2 < np.mean(flips) < 0.8
    grad = ms.value_and_grad(recipe.loss, None, recipe.optimizer.parameters, has_aux=True)
    refiner.set_train(True)
    losses = []
    for _ in range(5):
        (total, *_), grads = grad(*map(ms.Tensor, first))
        ops.depend(total, recipe.optimizer(grads))
        losses.append(float(total.asnumpy()))
    assert losses[-1] < losses[0], losses
