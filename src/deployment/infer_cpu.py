"""The CPU fallback of the Ascend 310 runner: same ``.bin`` inputs, same result files.

``python -m src.deployment.infer_cpu --model_file hmr.mindir|hmr.onnx --infer_input_path DIR --result_path DIR``
runs an exported graph over every input file of ``preprocess.py`` -- a MINDIR through
``mindspore.load`` + ``nn.GraphCell`` (or, by default, through its ONNX twin when export.py
wrote one: same weights, ~2.9x faster on CPU), an ONNX file through onnxruntime -- and writes
``<stem>_<i>.bin`` per output, as ``ascend310_infer/out/main`` does, plus the mean latency
per batch (the C++ runner's report line).
"""
import logging
import os
import time

from model_utils.entry import run_entry
from model_utils.errors import UserInputError
from model_utils.logger import setup_logging

logger = logging.getLogger("infer_cpu")


def run_graph_on_inputs(model_file, input_dir, result_dir, cpu_backend="auto"):
    """Run ``model_file`` over every input of ``input_dir``; write results; returns mean ms per batch.

    ``cpu_backend`` ``auto`` runs a MINDIR through its ONNX twin when export.py wrote one
    (see ``src.inference.predictors.graph_predictor``).
    """
    from src.inference.predictors import graph_predictor
    from src.inference.bin_io import read_batch_inputs, read_meta, write_results
    if not os.path.isfile(model_file):
        raise UserInputError(f"--model_file not found: {model_file}")
    meta = read_meta(input_dir)
    runner = graph_predictor(model_file, meta["batch"], cpu_backend)
    times = []
    for entry in meta["batches"]:
        inputs = read_batch_inputs(input_dir, meta, entry)
        if len(runner.input_names) != len(inputs):
            raise UserInputError(f"{model_file} takes {', '.join(runner.input_names)}, but {input_dir} holds "
                                 f"{', '.join(meta.get('inputs', ['images']))} (run preprocess.py with the graph's "
                                 "--model_file)")
        start = time.perf_counter()
        outputs = runner.run_raw(*inputs)
        times.append((time.perf_counter() - start) * 1e3)
        write_results(result_dir, entry["file"], outputs)
    mean = sum(times) / len(times)
    logger.info("NN inference cost average time: %.3f ms of infer_count %d (batch %d) -> %s", mean, len(times),
                meta["batch"], result_dir)
    return {"mean_ms": mean, "count": len(times)}


def main(config):
    setup_logging(None)
    for key in ("model_file", "infer_input_path", "result_path"):
        if not getattr(config, key):
            raise UserInputError(f"--{key} is required")
    return run_graph_on_inputs(config.model_file, config.infer_input_path, config.result_path, config.cpu_backend)


if __name__ == "__main__":
    run_entry(main)
