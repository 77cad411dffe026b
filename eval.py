"""Evaluate an HMR checkpoint: ``python eval.py --checkpoint_file_path CKPT [--eval_dataset FILE]``.

Writes ``<output_path>/eval/metrics.json`` (mpjpe, pa_mpjpe in mm, num_samples, checkpoint).
"""
import logging
import os

from model_utils.entry import run_entry
from model_utils.errors import UserInputError
from model_utils.logger import setup_logging

logger = logging.getLogger("eval")


def main(config):
    from src.builders import build_eval_source, build_model, build_smpl, set_mindspore_context
    from src.checkpoint import load_model_weights
    from src.evaluate import evaluate
    from src.utils.mesh_io import write_json
    out_dir = os.path.join(config.output_path, "eval")
    setup_logging(out_dir)
    if not config.checkpoint_file_path:
        raise UserInputError("--checkpoint_file_path is required (a training or a plain model checkpoint)")
    set_mindspore_context(config)
    model = build_model(config, build_smpl(config))
    load_model_weights(config.checkpoint_file_path, model)
    metrics = evaluate(model, build_eval_source(config, model, config.eval_dataset), config.eval_batch_size,
                       config.num_workers)
    metrics.update(checkpoint=config.checkpoint_file_path, dataset=config.eval_dataset)
    write_json(os.path.join(out_dir, "metrics.json"), metrics)
    logger.info("MPJPE %.1f mm, PA-MPJPE %.1f mm on %d samples", metrics["mpjpe"], metrics["pa_mpjpe"],
                metrics["num_samples"])
    return metrics


if __name__ == "__main__":
    run_entry(main)
