"""Runner result files -> the metrics of ``eval.py`` -> ``acc.log``.

``python postprocess.py --dataset PROTOCOL --data_path DATA --result_path DIR [--infer_input_path DIR]``
evaluates with ``--source results`` (the same code as ``eval.py``), writes
``<output_path>/eval/metrics.json`` like eval.py, and ``acc.log`` in the current folder
(one ``key: value`` line per metric) as the model zoo's scripts expect.
"""
import logging
import os

from model_utils.entry import run_entry
from model_utils.logger import setup_logging

logger = logging.getLogger("postprocess")

ACC_KEYS = ("protocol", "joint_set", "num_samples", "mpjpe", "pa_mpjpe", "pck", "auc", "pve")


def main(config):
    import eval as evaluation
    from src.utils.atomic import atomic_write
    summary = evaluation.main(config.replace(source="results"))
    lines = [f"{k}: {summary[k]:.2f}" if isinstance(summary[k], float) else f"{k}: {summary[k]}"
             for k in ACC_KEYS if k in summary]
    with atomic_write("acc.log", "w") as handle:
        handle.write("\n".join(lines) + "\n")
    setup_logging(None)
    logger.info("acc.log: %s", ", ".join(lines))
    return summary


if __name__ == "__main__":
    run_entry(main)
