"""HybrIK against HMR on the embedded default: the same encoder size, data and steps.

``python -m src.main_job.compare_hybrik --config_path src/main_job/demo_config.yaml [--KEY VALUE ...]``
(``bash scripts/run_compare_hybrik.sh``). HMR (SPIN's 6D head, ResNet-18 width 16) and HybrIK (its ResNet model:
the same ResNet-18 with HybrIK's three transposed convolutions, heads and IK) train on the embedded default's
centred splits (3D samples with SMPL labels, 2D-only ones) at the demo's crop size and steps, each with its own
objective and image normalisation, and are evaluated on ``synthetic_eval.npz``: MPJPE, PA-MPJPE, PVE, and the
2D error in crop pixels of the model's keypoints (projected by its own camera) against the labelled ones -
HybrIK's claim is pixel alignment. Each row also has the same network's MPJPE before training (trained /
untrained). ``<output_path>/hybrik_vs_hmr/summary.json`` holds the rows; an interrupted comparison resumes.
"""
import logging
import os

import numpy as np

from model_utils.entry import run_entry
from model_utils.logger import setup_logging

logger = logging.getLogger("compare_hybrik")

RUNS = {
    "hmr": {"architecture": "hmr", "pose_head": "rot6d", "backbone": "resnet", "image_normalization": "hmr"},
    "hybrik": {"architecture": "hybrik", "pose_head": "twist", "backbone": "hybrik_resnet",
               "image_normalization": "hybrik"},
}
REPORTED = ("mpjpe", "pa_mpjpe", "pve", "num_samples")


def keypoint_error(run, smpl, model):
    """Mean distance in crop pixels between the model's 2D keypoints and the evaluation file's visible ones."""
    import mindspore as ms

    from HMR.outputs import KEYPOINTS2D
    from src.builders import build_eval_source, crop_size, keypoint_indices
    from src.data.crop import crop_shape
    from src.data.sources import EVAL_COLUMNS
    from src.evaluation.protocols import get_protocol, protocol_file
    test_file = protocol_file(get_protocol(run.dataset), run.data_path, run.eval_dataset)
    source = build_eval_source(run, test_file, keypoint_indices(model))
    side = crop_shape(crop_size(run))[0]
    model.set_train(False)
    errors = []
    columns = len(EVAL_COLUMNS)
    for start in range(0, len(source), run.eval_batch_size):
        rows = [source[i] for i in range(start, min(start + run.eval_batch_size, len(source)))]
        stacked = [np.stack([r[c] for r in rows]) for c in range(len(rows[0]))]
        images, keypoints, extra = stacked[0], stacked[EVAL_COLUMNS.index("keypoints")], stacked[columns:]
        predicted = model(ms.Tensor(images), None, *(ms.Tensor(x) for x in extra))[KEYPOINTS2D].asnumpy()
        visible = keypoints[..., 2] > 0
        distance = np.linalg.norm(predicted - keypoints[..., :2], axis=-1) * side / 2.0
        errors.append(distance[visible])
    return float(np.mean(np.concatenate(errors)))


def compare(config, smpl, runs=None, folder="hybrik_vs_hmr", subsets=None):
    """Train and evaluate each of ``runs`` (``{name: config values}``, default ``RUNS``), also on each of ``subsets``
    (``{name: test file}``: the row gains ``<name>_mpjpe``, ``<name>_pa_mpjpe``, ``<name>_pve``); returns the summary
    written to ``<output_path>/<folder>/summary.json``."""
    import mindspore as ms

    from model_utils.atomic_files import write_json
    from src.builders import build_model
    from src.checkpoints import load_model_weights
    from src.evaluation.runner import evaluate_from_config
    from src.training.loop import train

    rows = {}
    for name, values in (runs or RUNS).items():
        run = config.replace(run_name=f"compare_{name}", **values)
        ms.set_seed(run.seed)
        untrained = build_model(run, smpl)
        before = evaluate_from_config(run, smpl, untrained)["mpjpe"]
        result = train(run)
        model = build_model(run, smpl)
        load_model_weights(result["checkpoint"], model)
        metrics = evaluate_from_config(run, smpl, model)
        rows[name] = dict({k: metrics[k] for k in REPORTED}, keypoint_error_px=keypoint_error(run, smpl, model),
                          untrained_mpjpe=before, trained_over_untrained=round(metrics["mpjpe"] / before, 4),
                          checkpoint=result["checkpoint"], train_steps=result["steps"], img_size=run.img_size)
        for subset, test_file in (subsets or {}).items():
            extra = evaluate_from_config(run.replace(eval_dataset=test_file), smpl, model)
            rows[name].update({f"{subset}_{k}": extra[k] for k in ("mpjpe", "pa_mpjpe", "pve")})
        logger.info("%s: MPJPE %.1f mm, PA-MPJPE %.1f mm, PVE %.1f mm, 2D %.2f px, trained/untrained %.2f", name,
                    metrics["mpjpe"], metrics["pa_mpjpe"], metrics["pve"], rows[name]["keypoint_error_px"],
                    rows[name]["trained_over_untrained"])
    summary = {"synthetic": bool(smpl.synthetic), "img_size": config.img_size, "rows": rows}
    path = write_json(os.path.join(config.output_path, folder, "summary.json"), summary)
    logger.info("summary: %s", path)
    return summary


def main(config):
    from src.builders import set_mindspore_context
    from src.main_job.run import prepare_embedded_default
    setup_logging(os.path.join(config.output_path, "hybrik_vs_hmr"))
    set_mindspore_context(config)
    return compare(config, prepare_embedded_default(config))


if __name__ == "__main__":
    run_entry(main)
