"""Static INT8 quantisation of an exported ONNX graph for CPU inference (``export.py --quantize int8``).

onnxruntime's tools: ``quant_pre_process`` folds each BatchNorm into its convolution, then
``quantize_static`` writes QDQ pairs with per-channel int8 weights and uint8 activations whose
ranges are calibrated (min/max) on crops of the evaluation set, preprocessed exactly as the
runners feed them. Only the convolutions (the encoder) are quantised: the regressor's few dense
layers cost little, and SMPL's blend shapes, joint regressor and skinning must stay float32 --
their outputs are the metric. The result, ``<file_name>_int8.onnx``, takes the float graph's inputs
and gives its outputs, so every runner and ``eval.py --source onnx`` take it unchanged.
"""
import logging
import os
import shutil
import tempfile

import numpy as np

from model_utils.errors import UserInputError

logger = logging.getLogger(__name__)

QUANTIZE_MODES = ("none", "int8")
QUANTIZED_OPS = ("Conv",)
QDQ_OPSET = 13


def calibration_batches(config, count):
    """Up to ``count`` evaluation crops as graph feeds: [(images (B, 3, H, W), *the architecture's extra
    inputs)].

    The crops of ``config.dataset``'s test file, in file order, as ``preprocess.py`` writes them."""
    from src.builders import build_eval_source
    from src.data.pipeline import create_eval_dataset
    from src.data.test_sets import get_protocol, protocol_file
    test_file = protocol_file(get_protocol(config.dataset), config.data_path, config.eval_dataset)
    source = build_eval_source(config, test_file)
    batches, seen = [], 0
    dataset = create_eval_dataset(source, config.eval_batch_size, config.num_workers)
    for batch in dataset.create_tuple_iterator(output_numpy=True):
        columns = dict(zip(source.columns, batch))
        rows = min(len(columns["image"]), count - seen)
        batches.append(tuple(columns[name][:rows].astype(np.float32) for name in ("image",) + source.extra_inputs))
        seen += rows
        if seen >= count:
            break
    if not batches:
        raise UserInputError(f"--quantize int8: no calibration crops in {test_file}")
    logger.info("INT8 calibration on %d crops of %s", seen, test_file)
    return batches


class _Feeds:
    """onnxruntime's CalibrationDataReader protocol over prepared batches."""

    def __init__(self, input_names, batches):
        self._feeds = iter([dict(zip(input_names, batch)) for batch in batches])

    def get_next(self):
        return next(self._feeds, None)

    def rewind(self):
        raise NotImplementedError("calibration reads its crops once")


def quantize_onnx_int8(onnx_file, batches, out_file=None):
    """Write the static INT8 (QDQ) twin of ``onnx_file`` calibrated on ``batches``; returns its path.

    Args:
        onnx_file: float32 export of export.py (any batch axis).
        batches: [(images (B, 3, H, W), *extra inputs)] as ``calibration_batches`` gives.
        out_file: default ``<stem>_int8.onnx``.
    """
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process
    from model_utils.atomic_files import write_json
    from src.inference.predictors import int8_path, read_graph_info
    out_file = out_file or int8_path(onnx_file)
    input_names = [value.name for value in onnx.load(onnx_file, load_external_data=False).graph.input]
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(out_file))) as work:
        upgraded = os.path.join(work, "opset.onnx")      # per-channel DequantizeLinear needs opset >= 13
        onnx.save(version_converter.convert_version(onnx.load(onnx_file), QDQ_OPSET), upgraded)
        prepared = os.path.join(work, "prepared.onnx")
        quant_pre_process(upgraded, prepared, skip_symbolic_shape=True)
        quantized = os.path.join(work, "int8.onnx")
        quantize_static(prepared, quantized, _Feeds(input_names, batches), quant_format=QuantFormat.QDQ,
                        op_types_to_quantize=list(QUANTIZED_OPS), per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)
        shutil.move(quantized, out_file)             # same folder: an atomic rename
    info = dict(read_graph_info(onnx_file), quantized="int8", quantized_ops=list(QUANTIZED_OPS),
                calibration_samples=int(sum(len(b[0]) for b in batches)), float_graph=os.path.abspath(onnx_file))
    write_json(out_file + ".json", info)
    logger.info("INT8 (QDQ, per-channel %s weights) -> %s", "/".join(QUANTIZED_OPS), out_file)
    return out_file
