"""Export the temporal refiner (``HMR/temporal``) as ONNX or MINDIR, dynamic in N and T.

MINDIR is dynamic natively (inputs ``[None, None, ...]``). ONNX is exported at the probe sizes
of ``src/deployment/dynamic_onnx.py`` and its N and T axes freed there. Inputs ``pose2d``,
``theta``, ``shape``; outputs ``rot_mat``, ``refined_shape`` (ONNX value names are unique, so
the output cannot be called ``shape`` like the input), ``vertices``, ``keypoint_3d``. A
``<file>.json`` beside records the interface, the clip length trained for and a digest of the
weights.
"""
import logging

from model_utils.errors import UserInputError

logger = logging.getLogger(__name__)

ONNX_OUTPUT_NAMES = ("rot_mat", "refined_shape", "vertices", "keypoint_3d")
SUFFIX = {"MINDIR": ".mindir", "ONNX": ".onnx"}


def _input_shapes(n, t):
    from HMR.temporal.refiner import NUM_BETAS, NUM_KEYPOINTS
    return [[n, t, NUM_KEYPOINTS, 3], [n, t, 72], [n, t, NUM_BETAS]]


def export_refiner(config, refiner, file_name):
    """Export ``refiner`` (a TemporalRefiner) in ``config.file_format``; returns the written path."""
    import mindspore as ms
    import numpy as np

    from HMR.temporal.refiner import INPUT_NAMES
    from model_utils.atomic_files import write_json
    from src.deployment.dynamic_onnx import PROBE, make_onnx_axes_dynamic
    from src.deployment.export import rename_onnx_values, weights_digest, write_graph
    fmt = config.file_format.upper()
    if fmt not in SUFFIX:
        raise UserInputError(f"the temporal refiner exports as {' or '.join(SUFFIX)}, not {config.file_format!r}")
    if fmt == "ONNX":
        inputs = [ms.Tensor(np.zeros(s, np.float32)) for s in _input_shapes(*PROBE)]
    else:
        inputs = [ms.Tensor(shape=s, dtype=ms.float32) for s in _input_shapes(None, None)]
    refiner.set_train(False)

    def dynamic_named_onnx(path):
        make_onnx_axes_dynamic(path, INPUT_NAMES[0])
        rename_onnx_values(path, outputs=ONNX_OUTPUT_NAMES)
    path = write_graph(refiner, inputs, file_name, fmt, dynamic_named_onnx if fmt == "ONNX" else None)
    write_json(path + ".json", {"format": fmt, "kind": "temporal_refiner", "inputs": list(INPUT_NAMES),
                                "outputs": list(ONNX_OUTPUT_NAMES), "dynamic_axes": ["N", "T"],
                                "clip": config.temporal_clip, "checkpoint": config.temporal_checkpoint,
                                "weights_sha1": weights_digest(refiner),
                                "synthetic_body_model": bool(refiner.smpl.synthetic)})
    logger.info("exported the temporal refiner as %s (N and T dynamic) -> %s", fmt, path)
    return path
