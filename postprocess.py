"""Runner result files -> the metrics of ``eval.py`` -> ``acc.log``.

``python postprocess.py --dataset PROTOCOL --data_path DATA --result_path DIR [--infer_input_path DIR]
[--model_file GRAPH]`` evaluates with ``--source results`` (the same code as ``eval.py``; with ``--model_file``, the
architecture as the graph's ``.json`` has it, so that its outputs are read as that architecture's) and writes
``<output_path>/eval/metrics.json`` like eval.py plus ``<output_path>/acc.log`` (one
``key: value`` line per metric), the model zoo's inference report.
"""
import logging
import os

from model_utils.entry import run_entry

logger = logging.getLogger("postprocess")


def main(config):
    import eval as evaluation
    from src.evaluation.runner import write_acc_log
    from src.inference.predictors import read_graph_info, with_graph_settings
    if config.model_file:
        config = with_graph_settings(config, read_graph_info(config.model_file))
    summary = evaluation.main(config.replace(source="results"))
    path = os.path.join(config.output_path, "acc.log")
    lines = write_acc_log(summary, path)
    logger.info("%s: %s", path, ", ".join(lines))
    summary["acc_log"] = path
    return summary


if __name__ == "__main__":
    run_entry(main)
