"""Export the temporal refiner (``HMR/temporal``) as ONNX or MINDIR, dynamic in N and T.

MINDIR is dynamic natively (inputs ``[None, None, ...]``). ONNX is exported at the probe sizes
of ``src/deployment/dynamic_onnx.py`` and its N and T axes freed there. Inputs ``pose2d``,
``theta``, ``shape``; outputs ``rot_mat``, ``refined_shape`` (ONNX value names are unique, so
the output cannot be called ``shape`` like the input), ``vertices``, ``keypoint_3d``. A
``<file>.json`` beside records the interface, the clip length trained for and a digest of the
weights.
"""
import logging
import os

from model_utils.errors import UserInputError

logger = logging.getLogger(__name__)

ONNX_OUTPUT_NAMES = ("rot_mat", "refined_shape", "vertices", "keypoint_3d")
SUFFIX = {"MINDIR": ".mindir", "ONNX": ".onnx"}


def _input_shapes(n, t):
    from HMR.temporal.refiner import NUM_BETAS, NUM_KEYPOINTS
    return [[n, t, NUM_KEYPOINTS, 3], [n, t, 72], [n, t, NUM_BETAS]]


def rename_outputs(path, names):
    """Give the graph outputs of the ONNX file ``path`` the names ``names``, in place."""
    import onnx
    model = onnx.load(path)
    renames = {out.name: new for out, new in zip(model.graph.output, names)}
    for node in model.graph.node:
        node.output[:] = [renames.get(o, o) for o in node.output]
        node.input[:] = [renames.get(i, i) for i in node.input]
    for out in model.graph.output:
        out.name = renames[out.name]
    onnx.save(model, path)


def export_refiner(config, refiner, file_name):
    """Export ``refiner`` (a TemporalRefiner) in ``config.file_format``; returns the written path."""
    import mindspore as ms
    import numpy as np

    from HMR.temporal.refiner import INPUT_NAMES
    from model_utils.atomic_files import write_json
    from src.deployment.dynamic_onnx import PROBE, make_onnx_axes_dynamic
    from src.deployment.export import weights_digest
    fmt = config.file_format.upper()
    if fmt not in SUFFIX:
        raise UserInputError(f"the temporal refiner exports as {' or '.join(SUFFIX)}, not {config.file_format!r}")
    if fmt == "ONNX":
        inputs = [ms.Tensor(np.zeros(s, np.float32)) for s in _input_shapes(*PROBE)]
    else:
        inputs = [ms.Tensor(shape=s, dtype=ms.float32) for s in _input_shapes(None, None)]
    refiner.set_train(False)
    base = file_name[:-len(SUFFIX[fmt])] if file_name.endswith(SUFFIX[fmt]) else file_name
    folder = os.path.dirname(os.path.abspath(base))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".tmp-{os.getpid()}-{os.path.basename(base)}")
    try:
        ms.export(refiner, *inputs, file_name=tmp, file_format=fmt)
        if fmt == "ONNX":
            make_onnx_axes_dynamic(tmp + SUFFIX[fmt], INPUT_NAMES[0])
            rename_outputs(tmp + SUFFIX[fmt], ONNX_OUTPUT_NAMES)
        path = base + SUFFIX[fmt]
        os.replace(tmp + SUFFIX[fmt], path)
    finally:
        if os.path.exists(tmp + SUFFIX[fmt]):
            os.remove(tmp + SUFFIX[fmt])
    write_json(path + ".json", {"format": fmt, "kind": "temporal_refiner", "inputs": list(INPUT_NAMES),
                                "outputs": list(ONNX_OUTPUT_NAMES), "dynamic_axes": ["N", "T"],
                                "clip": config.refiner_clip, "checkpoint": config.refiner_checkpoint,
                                "weights_sha1": weights_digest(refiner),
                                "synthetic_body_model": bool(refiner.smpl.synthetic)})
    logger.info("exported the temporal refiner as %s (N and T dynamic) -> %s", fmt, path)
    return path
