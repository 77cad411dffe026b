"""A model compiled in GRAPH_MODE is freed when its last reference goes (``HMR.graph_call``).

MindSpore 2.10 keeps the calling cell alive for the life of the process when graph code unpacks its own
``*varargs`` into a call; every model, train step and compiled graph built in one process then stays in
memory. CLIFF has an extra graph input (``bbox_info``), so its model, head, camera and train step all
forward varargs.
"""
import gc
import weakref

import numpy as np

import mindspore as ms
from conftest import tiny_config

CLIFF = ("--architecture", "cliff", "--pose_head", "rot6d", "--img_width", "48", "--augment", "false",
         "--train_datasets", "synthetic/synthetic_frames_train.npz", "--train_dataset_ratios", "1",
         "--epochs", "1", "--steps_per_epoch", "2")


def _batch(source, size):
    """The first ``size`` training samples as one tensor per dataset column."""
    return [ms.Tensor(np.stack(column)) for column in zip(*[source[p] for p in range(size)])]


def test_a_compiled_cliff_model_and_train_step_are_freed(tiny_data_dir, tmp_path):
    from src.data.sources import TRAIN_COLUMNS
    from src.training.loop import build_training, step_on_columns
    config = tiny_config(tiny_data_dir, tmp_path, *CLIFF)
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        parts = build_training(config)
        columns = _batch(parts["source"], config.batch_size)
        losses = step_on_columns(parts["step"])(*columns).asnumpy()
        extra = columns[len(TRAIN_COLUMNS):-1]
        assert len(extra) == 1 and extra[0].shape == (config.batch_size, 3)          # bbox_info
        vertices = parts["model"](columns[0], None, *extra)[4].asnumpy()
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)
    assert np.isfinite(losses).all() and np.isfinite(vertices).all()
    model, step = weakref.ref(parts["model"]), weakref.ref(parts["step"])
    del parts
    gc.collect()
    assert model() is None and step() is None
