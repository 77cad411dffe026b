"""Export an HMR checkpoint for deployment:
``python export.py --checkpoint_file_path CKPT [--file_format MINDIR|ONNX|AIR] [--file_name OUT]
[--export_batch_size N] [--quantize int8]``.

The graph includes SMPL and outputs theta, vertices, 3D joints and 2D keypoints
(``src/deployment/export.py``). ``--export_batch_size 0`` (default) exports a dynamic batch (MINDIR
natively, ONNX by freeing the batch axis). AIR can only be written on an Ascend device. A MINDIR
export also writes its ONNX twin (``--onnx_twin``), which the CPU fallback runner prefers; ``--quantize int8``
adds ``<file_name>_int8.onnx``, its static INT8 quantisation (``src/deployment/quantize.py``).

``python export.py --temporal_checkpoint CKPT [--file_format ONNX|MINDIR]`` exports the temporal
refiner instead (``src/deployment/export_refiner.py``; N and T dynamic).
"""
import logging
import os

from model_utils.entry import run_entry
from model_utils.errors import UserInputError
from model_utils.logger import setup_logging

logger = logging.getLogger("export")


def main(config):
    from src.builders import build_model, build_smpl, set_mindspore_context
    from src.checkpoints import load_model_weights
    from src.deployment.export import export_model
    out_dir = os.path.join(config.output_path, "export")
    setup_logging(out_dir)
    if config.temporal_checkpoint:
        return _export_refiner(config, out_dir)
    if not config.checkpoint_file_path:
        raise UserInputError("--checkpoint_file_path is required (a training or a plain model checkpoint)")
    set_mindspore_context(config.replace(graph_mode=True))
    model = build_model(config, build_smpl(config))
    load_model_weights(config.checkpoint_file_path, model)
    base = config.file_name or os.path.join(out_dir, "hmr")
    path = export_model(config, model, base)
    onnx_file = path if config.file_format.upper() == "ONNX" else None
    if config.file_format.upper() == "MINDIR" and config.onnx_twin:
        onnx_file = export_model(config.replace(file_format="ONNX"), model, os.path.splitext(path)[0])
        logger.info("ONNX twin for the CPU fallback runner: %s", onnx_file)
    if config.quantize == "int8":
        from src.deployment.quantize import calibration_batches, quantize_onnx_int8
        if onnx_file is None:
            raise UserInputError("--quantize int8 quantises the ONNX graph: use --file_format ONNX, "
                                 "or MINDIR with --onnx_twin true")
        quantize_onnx_int8(onnx_file, calibration_batches(config, config.quantize_calibration_samples))
    return path


def _export_refiner(config, out_dir):
    from src.builders import build_smpl, set_mindspore_context
    from src.deployment.export_refiner import export_refiner
    from src.checkpoints import load_model_weights
    from src.inference.temporal import build_temporal_refiner
    set_mindspore_context(config.replace(graph_mode=True))
    refiner = build_temporal_refiner(config, build_smpl(config))
    load_model_weights(config.temporal_checkpoint, refiner)
    path = export_refiner(config, refiner, config.file_name or os.path.join(out_dir, "refiner"))
    if config.file_format.upper() == "MINDIR" and config.onnx_twin:
        logger.info("ONNX twin: %s", export_refiner(config.replace(file_format="ONNX"), refiner,
                                                     os.path.splitext(path)[0]))
    return path


if __name__ == "__main__":
    run_entry(main)
