"""Training the temporal refiner (``train.py --train_temporal true``), the network ``temporal_refiner``
names, with its own recipe (the spec's ``recipe``, :data:`RECIPES`).

Data: a sequence dataset (``sequence_train_dataset``; the embedded default's
``synthetic_seq_train.npz``) and the per-frame predictions of a trained per-frame model
(``checkpoint_file_path``; any architecture - HybrIK is the seed's) on its frames, made once per weights
and dataset and cached in the run folder (``frame_predictions.npz``). The refiner's 2D input is the
labels' keypoints with detector-like noise (``temporal_keypoint_noise``), in the form its spec asks
(pixels, or frame-normalised for EHGFormer); ground truth is the labels' SMPL pose and betas through the
body model.

Each step draws ``temporal_batch_size`` clips (the spec's clip length, else ``temporal_clip``) of
consecutive frames, a random window of a random sequence (on the recipe's grid of starts).

- ``spacetime`` (:class:`SpacetimeRecipe`): L1 of the pelvis-aligned 17 joints and vertices, MSE of
  the rotation matrices, L1 of the joints' acceleration against the ground truth's (MotionBERT's
  velocity term, one derivative further); Adam at ``temporal_lr``.
- ``ehgformer``: EHGFormer's loss, AdamW and flip augmentation (``src/training/ehgformer_recipe.py``).

Run folder ``output_path/run_name/refiner``: checkpoints every ``save_every`` steps and at the end
(the refiner as ``model.``, the optimiser as ``opt_e.``); ``--resume`` continues a killed run from the
newest (the clips of a step depend only on the seed and the step).
"""
import logging
import os

import numpy as np

from HMR.registry import Registry
from model_utils.errors import UserInputError

logger = logging.getLogger(__name__)

REFINER_LOSS_NAMES = ("total", "joints", "vertices", "pose", "accel")
RUN_FOLDER = "refiner"
PREDICTIONS_FILE = "frame_predictions.npz"


def loss_cell(refiner, config):
    from mindspore import nn, ops

    class RefinerLoss(nn.Cell):
        """Inputs: the refiner's three (N, T, ...) inputs, then the ground truth: rotation matrices
        (N, T, 24, 9), 17 H36M joints (N, T, 17, 3) and vertices (N, T, V, 3) in the body frame.
        Output: the weighted total and its four terms (``REFINER_LOSS_NAMES``)."""

        def __init__(self):
            super().__init__(auto_prefix=False)
            self.refiner = refiner
            self.weights = (config.temporal_joint_weight, config.temporal_vertex_weight, config.temporal_pose_weight,
                            config.temporal_accel_weight)

        def construct(self, pose2d, theta, shape, gt_rotmats, gt_joints, gt_vertices):
            rotmats, _, vertices, joints = self.refiner(pose2d, theta, shape)
            pelvis, gt_pelvis = joints[:, :, :1], gt_joints[:, :, :1]
            aligned, gt_aligned = joints - pelvis, gt_joints - gt_pelvis
            joint_term = ops.mean(ops.abs(aligned - gt_aligned))
            vertex_term = ops.mean(ops.abs((vertices - pelvis) - (gt_vertices - gt_pelvis)))
            pose_term = ops.mean(ops.square(rotmats - gt_rotmats))
            accel = aligned[:, :-2] - 2.0 * aligned[:, 1:-1] + aligned[:, 2:]
            gt_accel = gt_aligned[:, :-2] - 2.0 * gt_aligned[:, 1:-1] + gt_aligned[:, 2:]
            accel_term = ops.mean(ops.abs(accel - gt_accel))
            w = self.weights
            total = w[0] * joint_term + w[1] * vertex_term + w[2] * pose_term + w[3] * accel_term
            return total, joint_term, vertex_term, pose_term, accel_term

    return RefinerLoss()


def ground_truth(smpl, pose, betas, batch=256):
    """Rotation matrices (N, 24, 9), H36M joints (N, 17, 3) and vertices (N, V, 3) of labelled SMPL
    parameters, body frame, metres."""
    import mindspore as ms
    from scipy.spatial.transform import Rotation
    rotmats = Rotation.from_rotvec(pose.reshape(-1, 3)).as_matrix().reshape(len(pose), 24, 9).astype(np.float32)
    joints, vertices = [], []
    for start in range(0, len(pose), batch):
        v, _ = smpl(ms.Tensor(betas[start:start + batch]), ms.Tensor(pose[start:start + batch]))
        joints.append(smpl.regress(v, "h36m").asnumpy())
        vertices.append(v.asnumpy())
    return rotmats, np.concatenate(joints), np.concatenate(vertices)


class ClipSampler:
    """Random clips of ``length`` consecutive rows of the sequences (lists of row indices), starting on a
    grid of ``stride`` frames (1 = anywhere)."""

    def __init__(self, groups, length, seed, stride=1):
        self.groups = [g for g in groups if len(g) >= length]
        if not self.groups:
            raise UserInputError(f"no training sequence has {length} frames (the refiner's clip; longest: "
                                 f"{max(len(g) for g in groups)})")
        self.length, self.seed, self.stride = length, seed, stride

    def batch(self, step, size):
        """(size, length) row indices of training step ``step`` (deterministic: resumable)."""
        rng = np.random.default_rng([self.seed, step])
        rows = []
        for _ in range(size):
            group = self.groups[rng.integers(len(self.groups))]
            start = rng.integers((len(group) - self.length) // self.stride + 1) * self.stride
            rows.append(group[start:start + self.length])
        return np.stack(rows)


def cached_frame_predictions(config, model, path, folder):
    """``frame_predictions`` of ``model`` on the dataset ``path``, cached in ``folder`` for these weights and
    this file (a cache of other weights or another file is replaced)."""
    from model_utils.atomic_files import atomic_write
    from src.checkpoints import weights_digest
    from src.inference.predictors import frame_predictions
    cache = os.path.join(folder, PREDICTIONS_FILE)
    key = f"{weights_digest(model)} {os.path.realpath(path)} {os.path.getmtime(path)}"
    if os.path.isfile(cache):
        with np.load(cache, allow_pickle=False) as stored:
            if str(stored["key"]) == key:
                logger.info("per-frame predictions of %s read from %s", path, cache)
                return {"pose": stored["pose"], "betas": stored["betas"]}
    predicted = frame_predictions(config, model, path)
    os.makedirs(folder, exist_ok=True)
    with atomic_write(cache) as handle:
        np.savez(handle, key=np.array(key), pose=predicted["pose"], betas=predicted["betas"])
    return predicted


def refiner_inputs(config, smpl, model, path, folder):
    """Everything a sequence file gives the refiner: per-frame predictions, noisy 2D keypoints in the
    refiner's form, ground truth and the sequences' rows."""
    from src.data.schema import load_dataset_npz
    from src.data.sequences import keypoints_2d, sequences
    from src.inference.temporal import refiner_keypoints
    data = load_dataset_npz(path)
    predicted = cached_frame_predictions(config, model, path, folder)
    rotmats, joints, vertices = ground_truth(smpl, data["pose"], data["shape"])
    pose2d = refiner_keypoints(config, keypoints_2d(data, config.temporal_keypoint_noise, config.seed), data, path)
    return {"pose2d": pose2d, "theta": predicted["pose"], "shape": predicted["betas"], "gt_rotmats": rotmats,
            "gt_joints": joints, "gt_vertices": vertices, "groups": sequences(data, path), "data": data}


INPUT_KEYS = ("pose2d", "theta", "shape", "gt_rotmats", "gt_joints", "gt_vertices")


class SpacetimeRecipe:
    """The ``spacetime`` refiner's loss (:func:`loss_cell`), Adam at ``temporal_lr``, clips anywhere."""

    loss_names = REFINER_LOSS_NAMES
    clip_stride = 1

    def __init__(self, config, smpl, refiner, arrays, groups, length, unit):
        from mindspore import nn
        del smpl, groups, length, unit
        self.loss = loss_cell(refiner, config)
        self.optimizer = nn.Adam(refiner.trainable_params(), learning_rate=config.temporal_lr)
        self.arrays = arrays

    def batch(self, rows, step):
        del step
        return [self.arrays[key][rows] for key in INPUT_KEYS]


RECIPES = Registry("temporal training recipe", {"spacetime": SpacetimeRecipe,
                                                 "ehgformer": "src.training.ehgformer_recipe:Recipe"})


def train_temporal(config, smpl, model=None):
    """Train the refiner; returns {"steps", "checkpoint", "losses"} (the last step's terms)."""
    import mindspore as ms
    from mindspore import ops

    from HMR.graph_call import call
    from HMR.temporal.registry import refiner_clip, refiner_spec
    from src.builders import dataset_paths
    from src.checkpoints import list_checkpoints, load_training_checkpoint, save_training_checkpoint
    from src.inference.loading import load_model
    from src.inference.temporal import build_temporal_refiner
    from src.training.loop import run_folder
    if model is None:
        model = load_model(config, smpl, "--train_temporal needs the per-frame model: --checkpoint_file_path CKPT")
    model.set_train(False)
    spec = refiner_spec(config.temporal_refiner)
    folder = os.path.join(run_folder(config), RUN_FOLDER)
    existing, start = list_checkpoints(folder), 0
    if existing and not config.resume:
        raise UserInputError(f"{folder} already holds checkpoints; pass --resume to continue or choose another "
                             "--run_name")
    path = dataset_paths(config, [config.sequence_train_dataset])[0]
    arrays = refiner_inputs(config, smpl, model, path, folder)
    length = refiner_clip(config)
    refiner = build_temporal_refiner(config, smpl)
    recipe = RECIPES.build(spec.recipe, config, smpl, refiner, arrays, arrays["groups"], length, spec.length_unit)
    sampler = ClipSampler(arrays["groups"], length, config.seed, recipe.clip_stride)
    optimizer = recipe.optimizer
    grad = ms.value_and_grad(recipe.loss, None, optimizer.parameters, has_aux=True)

    @ms.jit
    def step(*inputs):
        (total, *terms), grads = call(grad, inputs)
        return ops.depend(ops.stack([total, *terms]), optimizer(grads))

    parts = {"model": refiner, "opt_e": optimizer}
    if existing:
        start = load_training_checkpoint(existing[-1][1], parts)
        logger.info("refiner: resumed from %s at step %d", existing[-1][1], start)
    refiner.set_train(True)
    losses, checkpoint = None, existing[-1][1] if existing else None
    for number in range(start, config.temporal_steps):
        batch = [ms.Tensor(a) for a in recipe.batch(sampler.batch(number, config.temporal_batch_size), number)]
        losses = step(*batch).asnumpy()
        if (number + 1) % config.log_every == 0 or number == start:
            logger.info("%s refiner step %d: %s", spec.name, number + 1,
                        " ".join(f"{n} {v:.4f}" for n, v in zip(recipe.loss_names, losses)))
        if (number + 1) % config.save_every == 0 or number + 1 == config.temporal_steps:
            checkpoint = save_training_checkpoint(folder, number + 1, parts, config.keep_checkpoints)
    return {"steps": config.temporal_steps, "checkpoint": checkpoint,
            "losses": None if losses is None else dict(zip(recipe.loss_names, map(float, losses)))}
