"""Training-pipeline throughput against the training step's appetite (``bash scripts/run_bench.sh data``).

In one run: (a) samples/s of the full training pipeline (JPEG decode of 1000x1000 images,
the Human3.6M frame size; crop to 224x224 with flip, scale, rotation, shift and colour
jitter; normalisation; mocap draw; batching) with 1 and 2 worker processes, and (b) the
samples/s a ResNet-50 HMR training step consumes at batch 8 (the ``train`` benchmark's
step (a)). The pipeline must outpace the step, by 2x as the target.
"""
import os
import platform
import tempfile
import time

import cv2
import numpy as np

from model_utils.device_adapter import configure_cpu_isa

BATCH, SIDE, RAW_SIDE, NUM_IMAGES = 8, 224, 1000, 48
AUGMENT = dict(flip_prob=0.5, scale_jitter=0.25, rotation_jitter=30.0, rotation_prob=0.6, translation_jitter=0.05,
               colour_jitter=0.4)


def _write_dataset(folder, rng):
    """NUM_IMAGES textured 1000x1000 JPEGs and a schema npz with people ~500 px tall."""
    names = []
    for i in range(NUM_IMAGES):
        image = cv2.GaussianBlur(rng.integers(0, 256, (RAW_SIDE, RAW_SIDE, 3), dtype=np.uint8), (7, 7), 0)
        names.append(f"images/frame_{i:04d}.jpg")
        os.makedirs(os.path.join(folder, "images"), exist_ok=True)
        cv2.imwrite(os.path.join(folder, names[-1]), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    part = np.concatenate([rng.uniform(250, 750, (NUM_IMAGES, 24, 2)), np.ones((NUM_IMAGES, 24, 1))], 2)
    np.savez(os.path.join(folder, "train.npz"), imgname=np.array(names), center=np.full((NUM_IMAGES, 2), 500.0),
             scale=np.full(NUM_IMAGES, 3.0), part=part, S=np.ones((NUM_IMAGES, 24, 4)),
             pose=rng.normal(0, 0.2, (NUM_IMAGES, 72)), shape=rng.normal(size=(NUM_IMAGES, 10)))
    np.savez(os.path.join(folder, "mocap.npz"), pose=rng.normal(0, 0.2, (500, 72)), shape=rng.normal(size=(500, 10)))


def _pipeline_rate(folder, workers, batches):
    """Samples/s of the training pipeline after its first batch (start-up excluded)."""
    from HMR.constants import J24_TO_COCOPLUS19
    from src.data.pipeline import create_train_dataset
    from src.data.sources import TrainSource
    source = TrainSource([os.path.join(folder, "train.npz")], [1.0], os.path.join(folder, "mocap.npz"), BATCH,
                         batches + 1, SIDE, "hmr", J24_TO_COCOPLUS19, seed=0, augment=AUGMENT)
    iterator = create_train_dataset(source, 0, workers).create_tuple_iterator(num_epochs=1, output_numpy=True)
    next(iterator)
    start = time.perf_counter()
    count = sum(1 for _ in iterator)
    return count * BATCH / (time.perf_counter() - start)


def main(batches=40):
    configure_cpu_isa()
    from src.data.synthetic.write_model import write_body_model
    from tests.benchmarks.bench_train import _mindspore_steps
    from tests.benchmarks.timing import print_table, time_call

    folder = tempfile.mkdtemp(prefix="bench_data_")
    _write_dataset(folder, np.random.default_rng(0))
    rates = {w: _pipeline_rate(folder, w, batches) for w in (1, 2)}
    hmr_step = _mindspore_steps(write_body_model(tempfile.mkdtemp(prefix="bench_data_model_")),
                                np.random.default_rng(0))[0]
    step_rate = BATCH / (time_call(hmr_step, 5) / 1e3)
    print_table(f"Training pipeline vs training step, {SIDE}x{SIDE} crops of {RAW_SIDE}x{RAW_SIDE} JPEGs, full "
                f"augmentation, samples/s, {platform.machine()}, {os.cpu_count()} cores",
                ("(a1) pipeline, 1 worker", "(a2) pipeline, 2 workers", "(b) HMR step consumes, batch 8",
                 "(a2)/(b)"),
                [(f"{rates[1]:.1f}", f"{rates[2]:.1f}", f"{step_rate:.1f}", f"{rates[2] / step_rate:.1f}")])


if __name__ == "__main__":
    main()
