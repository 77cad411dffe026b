"""Training the temporal refiner (``train.py --train_temporal true``).

Data: a sequence dataset (``sequence_train_dataset``; the embedded default's
``synthetic_seq_train.npz``) and the per-frame predictions of a trained per-frame model
(``checkpoint_file_path``) on its frames, made once at the start. The refiner's 2D input is
the labels' keypoints with detector-like noise (``temporal_keypoint_noise``); ground truth is
the labels' SMPL pose and betas through the body model.

Each step draws ``temporal_batch_size`` clips of ``temporal_clip`` consecutive frames (a random
window of a random sequence). Loss (:class:`RefinerLoss`): L1 of the pelvis-aligned 17 joints
and vertices, MSE of the rotation matrices, L1 of the joints' acceleration against the ground
truth's (MotionBERT's velocity term, one derivative further). Adam at ``temporal_lr``. Run
folder ``output_path/run_name/refiner``: checkpoints every ``save_every`` steps and at the end
(the refiner as ``model.``, Adam as ``opt_e.``); ``--resume`` continues a killed run from the
newest (the clips of a step depend only on the seed and the step).
"""
import logging
import os

import numpy as np

from model_utils.errors import UserInputError

logger = logging.getLogger(__name__)

REFINER_LOSS_NAMES = ("total", "joints", "vertices", "pose", "accel")
RUN_FOLDER = "refiner"


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
    """Random clips of ``length`` consecutive rows of the sequences (lists of row indices)."""

    def __init__(self, groups, length, seed):
        self.groups = [g for g in groups if len(g) >= length]
        if not self.groups:
            raise UserInputError(f"no training sequence has --temporal_clip {length} frames "
                                 f"(longest: {max(len(g) for g in groups)})")
        self.length = length
        self.seed = seed

    def batch(self, step, size):
        """(size, length) row indices of training step ``step`` (deterministic: resumable)."""
        rng = np.random.default_rng([self.seed, step])
        rows = []
        for _ in range(size):
            group = self.groups[rng.integers(len(self.groups))]
            start = rng.integers(len(group) - self.length + 1)
            rows.append(group[start:start + self.length])
        return np.stack(rows)


def refiner_inputs(config, smpl, model, path, seed):
    """Everything a sequence file gives the refiner: per-frame predictions, noisy 2D keypoints,
    ground truth and the sequences' rows."""
    from src.data.schema import load_dataset_npz
    from src.data.sequences import keypoints_2d, sequences
    from src.inference.predictors import frame_predictions
    data = load_dataset_npz(path)
    predicted = frame_predictions(config, model, path)
    rotmats, joints, vertices = ground_truth(smpl, data["pose"], data["shape"])
    return {"pose2d": keypoints_2d(data, config.temporal_keypoint_noise, seed), "theta": predicted["pose"],
            "shape": predicted["betas"], "gt_rotmats": rotmats, "gt_joints": joints, "gt_vertices": vertices,
            "groups": sequences(data, path), "data": data}


INPUT_KEYS = ("pose2d", "theta", "shape", "gt_rotmats", "gt_joints", "gt_vertices")


def train_temporal(config, smpl, model=None):
    """Train the refiner; returns {"steps", "checkpoint", "losses"} (the last step's terms)."""
    import mindspore as ms
    from mindspore import nn, ops

    from src.builders import dataset_paths
    from src.checkpoints import list_checkpoints, load_training_checkpoint, save_training_checkpoint
    from src.inference.loading import load_model
    from src.inference.temporal import build_temporal_refiner
    from src.training.loop import run_folder
    if model is None:
        model = load_model(config, smpl, "--train_temporal needs the per-frame model: --checkpoint_file_path CKPT")
    model.set_train(False)
    path = dataset_paths(config, [config.sequence_train_dataset])[0]
    arrays = refiner_inputs(config, smpl, model, path, config.seed)
    sampler = ClipSampler(arrays["groups"], config.temporal_clip, config.seed)
    refiner = build_temporal_refiner(config, smpl)
    loss = loss_cell(refiner, config)
    optimizer = nn.Adam(refiner.trainable_params(), learning_rate=config.temporal_lr)
    grad = ms.value_and_grad(loss, None, optimizer.parameters, has_aux=True)

    @ms.jit
    def step(*inputs):
        (total, *terms), grads = grad(*inputs)
        return ops.depend(ops.stack([total, *terms]), optimizer(grads))

    folder = os.path.join(run_folder(config), RUN_FOLDER)
    parts = {"model": refiner, "opt_e": optimizer}
    existing, start = list_checkpoints(folder), 0
    if existing and not config.resume:
        raise UserInputError(f"{folder} already holds checkpoints; pass --resume to continue or choose another "
                             "--run_name")
    if existing:
        start = load_training_checkpoint(existing[-1][1], parts)
        logger.info("refiner: resumed from %s at step %d", existing[-1][1], start)
    refiner.set_train(True)
    losses, checkpoint = None, existing[-1][1] if existing else None
    for number in range(start, config.temporal_steps):
        rows = sampler.batch(number, config.temporal_batch_size)
        batch = [ms.Tensor(arrays[key][rows]) for key in INPUT_KEYS]
        losses = step(*batch).asnumpy()
        if (number + 1) % config.log_every == 0 or number == start:
            logger.info("refiner step %d: %s", number + 1,
                        " ".join(f"{n} {v:.4f}" for n, v in zip(REFINER_LOSS_NAMES, losses)))
        if (number + 1) % config.save_every == 0 or number + 1 == config.temporal_steps:
            checkpoint = save_training_checkpoint(folder, number + 1, parts, config.keep_checkpoints)
    return {"steps": config.temporal_steps, "checkpoint": checkpoint,
            "losses": None if losses is None else dict(zip(REFINER_LOSS_NAMES, map(float, losses)))}
