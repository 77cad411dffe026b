"""Test set -> ``.bin`` inputs for the Ascend 310 runner (or its CPU fallback).

``python preprocess.py --dataset PROTOCOL --data_path DATA --infer_input_path DIR [--model_file GRAPH]``
writes ``DIR/images/hmr_NNNNNN.bin`` (batches of normalised crops, the last one padded; for
CLIFF also ``DIR/bbox_info/hmr_NNNNNN.bin``) and ``DIR/preprocess.json`` (see ``src/inference/bin_io.py``). With ``--model_file``, the crop size,
normalisation and batch come from the graph's ``.json`` (export.py writes it); otherwise from
``architecture``, ``img_size``, ``img_width``, ``image_normalization`` and ``export_batch_size`` (0 = ``eval_batch_size``).
"""
import logging

from model_utils.entry import run_entry
from model_utils.errors import UserInputError
from model_utils.logger import setup_logging

logger = logging.getLogger("preprocess")


def main(config):
    from src.inference.bin_io import write_test_inputs
    if not config.infer_input_path:
        raise UserInputError("--infer_input_path is required (the folder to write the .bin inputs to)")
    setup_logging(None)
    if config.model_file:
        from src.inference.predictors import read_graph_info, with_graph_settings
        info = read_graph_info(config.model_file)
        config = with_graph_settings(config, info).replace(export_batch_size=info.get("batch") or
                                                           config.export_batch_size)
        logger.info("inputs for %s (%s): %d px high, %s normalisation, batch %s", config.model_file,
                    config.architecture, config.img_size, config.image_normalization,
                    config.export_batch_size or "dynamic")
    batch = config.export_batch_size or config.eval_batch_size
    meta = write_test_inputs(config, config.infer_input_path, batch)
    logger.info("%d samples of %s in %d file(s) of batch %d -> %s", meta["num_samples"], config.dataset,
                len(meta["batches"]), batch, config.infer_input_path)
    return meta


if __name__ == "__main__":
    run_entry(main)
