"""The training loop: data, the train step, logging, checkpoints, resume, divergence check."""
import json
import logging
import math
import os
import time

import numpy as np

from model_utils.errors import TrainingDiverged, UserInputError
from src import builders
from src.checkpoints import (list_checkpoints, load_aux_weights, load_model_weights, load_training_checkpoint,
                                     save_training_checkpoint)
from HMR.registry import Registry
from src.data.sources import TRAIN_COLUMNS

logger = logging.getLogger(__name__)

LOG_NAME = "train_log.jsonl"


def run_folder(config):
    return os.path.join(config.output_path, config.run_name)


def _steps(config, source):
    per_epoch = config.steps_per_epoch or math.ceil(sum(d.size for d in source.datasets) /
                                                     (config.batch_size * source.world_size))
    return per_epoch, per_epoch * config.epochs


def _truncate_log(path, start_step):
    """Drop log lines of steps a resumed run will redo (written after the checkpoint)."""
    if not os.path.isfile(path):
        return
    with open(path, encoding="utf-8") as handle:
        kept = [line for line in handle if line.strip() and json.loads(line)["step"] < start_step]
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(kept)


def build_training(config, rank=0, world_size=1, make_reducer=None):
    """Model, optimisers, train step and data source of a run: HMR's adversarial training (with a
    discriminator), with ``config.meta`` Meta-HMR's meta-training (with the auxiliary network), or HybrIK's
    (``TRAIN_STEPS``, by the architecture spec's ``model``).

    ``make_reducer(parameters)``: the gradient all-reduce of a data-parallel run (None: one device).
    """
    from src.training.loss_scale import build_loss_scaler
    from src.training.lr_schedule import build_lr_schedule
    from src.training.optimizers import build_encoder_optimizer

    smpl = builders.build_smpl(config)
    model = builders.build_model(config, smpl)
    model.use_mixed_precision(config.amp_level)
    scaler = build_loss_scaler(config)
    if config.freeze_batchnorm:
        from HMR.backbones.resnet import freeze_batchnorm
        freeze_batchnorm(model.encoder)
    source = builders.build_train_source(config, model, 0, rank, world_size)
    steps_per_epoch, total_steps = _steps(config, source)
    source.num_steps = total_steps          # the length of the position space, known once sizes are read
    milestones = [epoch * steps_per_epoch for epoch in config.lr_milestone_epochs]
    schedule = {name: build_lr_schedule(config.lr_schedule, lr, total_steps, config.warmup_steps,
                                        config.lr_decay_steps, config.lr_decay_rate, milestones)
                for name, lr in (("encoder", config.encoder_lr), ("discriminator", config.discriminator_lr))}
    enc_opt = build_encoder_optimizer(config, model, list(schedule["encoder"]))
    parts = {"model": model, "opt_e": enc_opt, "source": source, "schedule": schedule,
             "steps_per_epoch": steps_per_epoch, "total_steps": total_steps}
    if scaler.checks:
        parts["scaler"] = scaler
    return TRAIN_STEPS.build(builders.architecture(config).model, config, smpl, model, parts, make_reducer, scaler)


def _hmr_step(config, smpl, model, parts, make_reducer, scaler):
    """HMR's adversarial step (a discriminator and its optimiser) or, with ``config.meta``, Meta-HMR's."""
    from mindspore import nn
    enc_opt, schedule = parts["opt_e"], parts["schedule"]
    if config.meta:
        from src.training.meta_step import MetaTrainStep, build_meta_objective
        aux = builders.build_aux_model(config, smpl)
        step_cell = MetaTrainStep(build_meta_objective(config, model), aux, enc_opt,
                                  make_reducer(enc_opt.parameters) if make_reducer else None, scaler)
        step_cell.set_train(True)
        aux.set_train(False)                    # the pseudo ground truth is the aux network's inference
        return dict(parts, aux=aux, step=step_cell)
    from src.training.step import DiscriminatorLoss, EncoderLoss, HMRTrainStep
    discriminator = builders.build_discriminator(config)
    disc_opt = nn.Adam(discriminator.trainable_params(), learning_rate=list(schedule["discriminator"]),
                       weight_decay=config.weight_decay)
    encoder_loss = EncoderLoss(model, discriminator, config.keypoint_loss_weight, config.joint3d_loss_weight,
                               config.smpl_loss_weight, config.adversarial_loss_weight)
    reducers = (make_reducer(enc_opt.parameters), make_reducer(disc_opt.parameters)) if make_reducer else (None, None)
    step_cell = HMRTrainStep(encoder_loss, DiscriminatorLoss(discriminator, config.discriminator_loss_weight),
                             enc_opt, disc_opt, *reducers, scaler)
    step_cell.set_train(True)
    return dict(parts, disc=discriminator, opt_d=disc_opt, step=step_cell)


def _hybrik_step(config, smpl, model, parts, make_reducer, scaler):
    """HybrIK's step (``src/training/hybrik_step.py``): one optimiser, no discriminator."""
    from src.training.hybrik_step import HybrIKObjective, HybrIKTrainStep
    enc_opt = parts["opt_e"]
    objective = HybrIKObjective(model)
    step_cell = HybrIKTrainStep(objective, enc_opt, make_reducer(enc_opt.parameters) if make_reducer else None, scaler)
    step_cell.set_train(True)
    return dict(parts, step=step_cell)


def _crowdnet_step(config, smpl, model, parts, make_reducer, scaler):
    """3DCrowdNet's step (``src/training/crowdnet_step.py``): one optimiser, no discriminator."""
    from src.training.crowdnet_step import CrowdNetObjective, CrowdNetTrainStep, keypoint_names
    enc_opt = parts["opt_e"]
    step_cell = CrowdNetTrainStep(CrowdNetObjective(model, keypoint_names(model)), enc_opt,
                                  make_reducer(enc_opt.parameters) if make_reducer else None, scaler)
    step_cell.set_train(True)
    return dict(parts, step=step_cell)


# the training step of each way a model is assembled (the architecture spec's ``model``)
TRAIN_STEPS = Registry("training step", {"hmr": _hmr_step, "hybrik": _hybrik_step, "crowdnet": _crowdnet_step})


def step_on_columns(step_cell):
    """The train step on a batch's dataset columns (``TRAIN_COLUMNS``, the architecture's extra inputs, then
    the dropout noise (B, I, 2, H)): returns the step's outputs followed by the batch's number of valid
    samples."""
    from mindspore import ops

    num_inputs, valid = len(TRAIN_COLUMNS), TRAIN_COLUMNS.index("valid")

    def run(*columns):
        noise = ops.transpose(columns[-1], (1, 2, 0, 3))
        outputs = step_cell(*columns[:num_inputs], noise, *columns[num_inputs:-1])
        return ops.concat([outputs, columns[valid].sum().reshape(1)])
    return run


def _batches(config, parts, start):
    """The outputs of ``step_on_columns`` for steps ``start`` on, one per iteration: the step runs on
    what the host iterator yields, or with ``dataset_sink`` inside MindSpore's dataset sink."""
    import mindspore as ms

    from src.data.pipeline import create_train_dataset

    dataset = create_train_dataset(parts["source"], start, config.num_workers)
    run = step_on_columns(parts["step"])
    if config.dataset_sink:
        if config.device_target not in ("Ascend", "GPU"):
            raise UserInputError(f"--dataset_sink true needs device_target Ascend or GPU (got {config.device_target})")
        sunk = ms.data_sink(run, dataset, sink_size=1)
        return (sunk() for _ in range(parts["total_steps"] - start))
    return (run(*batch) for batch in dataset.create_tuple_iterator())


def _own_folder(folder, rank):
    """Where a rank keeps its checkpoints: the run folder for rank 0, ``rank_<i>/`` in it otherwise."""
    return folder if rank == 0 else os.path.join(folder, f"rank_{rank}")


def train(config, rank=0, world_size=1, make_reducer=None):
    """Train (or resume) a run. Returns a summary dict (last checkpoint, steps, last losses, skipped samples,
    steps whose encoder update the loss scaler skipped over the whole run).

    In a data-parallel run, rank 0 logs, writes ``train_log.jsonl`` and keeps the run's
    checkpoints; every other rank keeps only its newest checkpoint in ``rank_<i>/`` (what it
    needs to resume on a machine that does not share rank 0's disk).
    """
    from tqdm import tqdm

    from src.training.loss_scale import STEP_STAT_NAMES

    folder = run_folder(config)
    parts = build_training(config, rank, world_size, make_reducer)
    total = parts["total_steps"]
    is_main = rank == 0
    start = 0
    own = _own_folder(folder, rank)
    existing = list_checkpoints(own) or list_checkpoints(folder)
    if config.resume and existing:
        start = load_training_checkpoint(existing[-1][1], parts)
        logger.info("resumed from %s at step %d", existing[-1][1], start)
    elif config.resume:
        logger.info("--resume: no checkpoint in %s, starting from step 0", folder)
    elif existing:
        raise UserInputError(f"{folder} already holds checkpoints; pass --resume to continue or choose another --run_name")
    if start == 0 and config.checkpoint_file_path:
        load_model_weights(config.checkpoint_file_path, parts["model"], parts.get("disc"))
    if start == 0 and "aux" in parts:
        load_aux_weights(config, parts["aux"])
    config_path = os.path.join(folder, "config.yaml")
    log_path = os.path.join(folder, LOG_NAME)
    if is_main:
        os.makedirs(folder, exist_ok=True)
        config.save(config_path)
        _truncate_log(log_path, start)
    end = total if not config.stop_after_steps else min(total, start + config.stop_after_steps)
    logger.info("training steps %d..%d of %d (%d per epoch), batch %d x %d rank(s)", start, end, total,
                parts["steps_per_epoch"], config.batch_size, world_size)
    # (an empty GeneratorDataset crashes MindSpore 2.10: a finished run builds none)
    batches = _batches(config, parts, start) if start < end else []
    loss_names = parts["step"].loss_names
    step, last, skipped, last_ckpt = start, None, 0, existing[-1][1] if existing else None
    progress = tqdm(total=end - start, disable=not (is_main and config.progress_bar), desc="train", unit="step")
    tick = time.perf_counter()
    for outputs in batches:
        if step >= end:
            break
        outputs = outputs.asnumpy()
        losses, stats, valid = outputs[:len(loss_names)], outputs[len(loss_names):-1], outputs[-1]
        loss_scale, overflow = (float(v) for v in stats)
        skipped += int(config.batch_size - valid)
        if not np.all(np.isfinite(losses)):
            raise TrainingDiverged(f"non-finite loss at step {step}: " +
                                   ", ".join(f"{n}={v:.4g}" for n, v in zip(loss_names, losses)) +
                                   f"; last good checkpoint: {last_ckpt or 'none'}")
        ms_per_step = (time.perf_counter() - tick) * 1e3
        tick = time.perf_counter()
        last = dict(zip(loss_names, (float(v) for v in losses)))
        record = {"step": step, **last, "encoder_lr": float(parts["schedule"]["encoder"][step]),
                  **dict(zip(STEP_STAT_NAMES, (loss_scale, bool(overflow)))), "ms_per_step": round(ms_per_step, 1)}
        if overflow:
            logger.warning("step %d: non-finite gradients at loss scale %g, encoder update skipped", step, loss_scale)
        if is_main:
            with open(log_path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
            if step % config.log_every == 0 or step == end - 1:
                logger.info("step %d epoch %d | %s | lr %.3g | %.0f ms/step", step, step // parts["steps_per_epoch"],
                            " ".join(f"{k}={v:.4f}" for k, v in last.items()), record["encoder_lr"], ms_per_step)
        progress.update(1)
        step += 1
        if step % config.save_every == 0 or step == end:
            last_ckpt = save_training_checkpoint(own, step, parts, config.keep_checkpoints if is_main else 1,
                                                 {"epoch": step // parts["steps_per_epoch"], "config": config_path})
    progress.close()
    if skipped:
        logger.warning("%d sample(s) had unreadable images and were skipped (masked out of the losses)", skipped)
    overflow_steps = int(parts["scaler"].overflow_steps.asnumpy()) if "scaler" in parts else 0
    return {"checkpoint": last_ckpt, "config": config_path, "steps": step, "total_steps": total, "last_losses": last,
            "skipped_samples": skipped, "overflow_steps": overflow_steps, "log": log_path}
