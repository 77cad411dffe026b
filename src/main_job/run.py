"""The demo's main job on the embedded default: data -> untrained eval -> train -> trained eval.

``python -m src.main_job.run [--KEY VALUE ...]`` (``scripts/run_demo.sh`` passes
``--config_path src/main_job/demo_config.yaml``). Builds the synthetic body model and
datasets under ``data_path`` when they are missing, evaluates the untrained model (its
prediction is the mean pose), trains (resuming if a previous demo was interrupted),
evaluates the result, renders a preview of the body model, exports MINDIR and ONNX, runs
CPU inference on ``.bin`` files as ``run_infer_310.sh --device cpu`` does, draws overlays of
a few eval images, and writes ``<output_path>/demo/summary.json``.
"""
import logging
import os

from model_utils.entry import run_entry
from model_utils.logger import setup_logging

logger = logging.getLogger("demo")


def prepare_embedded_default(config):
    """Write the synthetic body model and the datasets of ``synthetic_splits`` into ``data_path`` (each
    kept if written before with the same settings)."""
    from src.builders import build_smpl
    from src.data.synthetic.dataset import write_synthetic_datasets
    from src.data.synthetic.write_model import ensure_body_model
    ensure_body_model(config)
    smpl = build_smpl(config)
    write_synthetic_datasets(config.data_path, smpl, seed=config.synthetic_seed, splits=config.synthetic_splits)
    return smpl


def main(config):
    from src.builders import build_model, set_mindspore_context
    from src.checkpoints import load_model_weights
    from src.evaluation.runner import evaluate_from_config
    from src.data.synthetic import preview
    from src.main_job.deploy import deploy
    from src.training.loop import train
    from model_utils.atomic_files import read_json, write_json

    out_dir = os.path.join(config.output_path, "demo")
    setup_logging(out_dir)
    set_mindspore_context(config)
    smpl = prepare_embedded_default(config)
    model = build_model(config, smpl)
    untrained = evaluate_from_config(config, smpl, model)
    logger.info("untrained: MPJPE %.1f mm, PA-MPJPE %.1f mm", untrained["mpjpe"], untrained["pa_mpjpe"])
    result = train(config)
    load_model_weights(result["checkpoint"], model)         # every weight is overwritten
    trained = evaluate_from_config(config, smpl, model)
    logger.info("trained: MPJPE %.1f mm, PA-MPJPE %.1f mm", trained["mpjpe"], trained["pa_mpjpe"])
    preview.main(config, smpl)
    deployed = deploy(config, smpl, model, out_dir)
    summary_path = os.path.join(out_dir, "summary.json")
    summary = read_json(summary_path, {})
    summary.update({
        "synthetic": bool(smpl.synthetic), "untrained": untrained, "trained": trained,
        "trained_over_untrained_mpjpe": round(trained["mpjpe"] / untrained["mpjpe"], 4),
        "checkpoint": result["checkpoint"], "config": result["config"], "train_steps": result["steps"],
        "eval_protocol": config.dataset, **deployed,
    })
    write_json(summary_path, summary)
    logger.info("summary: %s", summary_path)
    return summary


if __name__ == "__main__":
    run_entry(main)
