"""CLIFF against HMR on the embedded default's full frames: same backbone, data and steps.

``python -m src.main_job.compare_cliff --config_path src/main_job/demo_config.yaml [--KEY VALUE ...]``
(``bash scripts/run_compare_cliff.sh``). Both models use the 6D pose head, the demo's small encoder
and crops, and train on the embedded default's three training splits (the centred ones and
``synthetic_frames_train.npz``, people anywhere in wide-angle frames; every split knows its focal length);
they differ only in what CLIFF adds: bbox_info into every regressor iteration and the 2D
keypoint loss through the full-image camera. Both are evaluated on ``synthetic_frames_eval.npz``;
``<output_path>/cliff_vs_hmr/summary.json`` holds the two rows (runs in ``compare_hmr/`` and
``compare_cliff/``; an interrupted comparison resumes).
"""
import logging
import os

from model_utils.entry import run_entry
from model_utils.logger import setup_logging

logger = logging.getLogger("compare_cliff")

FRAMES = {"train_datasets": ["synthetic/synthetic_3d_train.npz", "synthetic/synthetic_2d_train.npz",
                             "synthetic/synthetic_frames_train.npz"], "train_dataset_ratios": [0.4, 0.2, 0.4],
          "eval_dataset": "synthetic/synthetic_frames_eval.npz", "pose_head": "rot6d"}
ARCHITECTURES = ("hmr", "cliff")
REPORTED = ("mpjpe", "pa_mpjpe", "pve", "num_samples")


def compare(config, smpl):
    """Train and evaluate both models on the embedded default's data in ``config.data_path``;
    returns the summary written to ``<output_path>/cliff_vs_hmr/summary.json``."""
    from model_utils.atomic_files import write_json
    from src.builders import build_model
    from src.evaluation.runner import evaluate_from_config
    from src.checkpoints import load_model_weights
    from src.training.loop import train

    out_dir = os.path.join(config.output_path, "cliff_vs_hmr")
    rows = {}
    for architecture in ARCHITECTURES:
        run = config.replace(architecture=architecture, run_name=f"compare_{architecture}", **FRAMES)
        result = train(run)
        model = build_model(run, smpl)
        load_model_weights(result["checkpoint"], model)
        metrics = evaluate_from_config(run, smpl, model)
        rows[architecture] = dict({k: metrics[k] for k in REPORTED}, checkpoint=result["checkpoint"],
                                  train_steps=result["steps"])
        logger.info("%s: MPJPE %.1f mm, PA-MPJPE %.1f mm, PVE %.1f mm", architecture, metrics["mpjpe"],
                    metrics["pa_mpjpe"], metrics["pve"])
    summary = {"synthetic": bool(smpl.synthetic), "eval_dataset": FRAMES["eval_dataset"], "rows": rows,
               "cliff_over_hmr_mpjpe": round(rows["cliff"]["mpjpe"] / rows["hmr"]["mpjpe"], 4),
               "cliff_over_hmr_pa_mpjpe": round(rows["cliff"]["pa_mpjpe"] / rows["hmr"]["pa_mpjpe"], 4)}
    path = write_json(os.path.join(out_dir, "summary.json"), summary)
    logger.info("summary: %s", path)
    return summary


def main(config):
    from src.builders import set_mindspore_context
    from src.main_job.run import prepare_embedded_default
    setup_logging(os.path.join(config.output_path, "cliff_vs_hmr"))
    set_mindspore_context(config)
    return compare(config, prepare_embedded_default(config))


if __name__ == "__main__":
    run_entry(main)
