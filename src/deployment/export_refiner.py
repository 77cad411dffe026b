"""Export the temporal refiner (``HMR/temporal``, the network ``temporal_refiner`` names) as ONNX or MINDIR,
dynamic in N and T.

MINDIR is dynamic natively (inputs ``[None, None, ...]``). ONNX is exported at the probe sizes
of ``src/deployment/dynamic_onnx.py`` and its N and T axes freed there. Input and output names are the
refiner spec's (``HMR/temporal/registry.py``): ``spacetime`` - ``pose2d``, ``theta``, ``shape`` ->
``rot_mat``, ``refined_shape`` (ONNX value names are unique, so that output cannot be called ``shape`` like
its input), ``vertices``, ``keypoint_3d``; ``ehgformer`` - the seed's ``pose2d``, ``hybrik_theta``,
``hybrik_shape`` -> ``rot_mat``, ``shape``, ``vertices``, ``keypoint_3d``. A ``<file>.json`` beside records
the refiner, the interface, its keypoint normalisation and length unit, the clip length it refines in and a
digest of the weights.
"""
import logging

from HMR.constants import H36M17_NAMES, NUM_BETAS, NUM_POSE_PARAMS
from model_utils.errors import UserInputError

logger = logging.getLogger(__name__)

SUFFIX = {"MINDIR": ".mindir", "ONNX": ".onnx"}


def _input_shapes(n, t):
    return [[n, t, len(H36M17_NAMES), 3], [n, t, NUM_POSE_PARAMS], [n, t, NUM_BETAS]]


def export_refiner(config, refiner, file_name):
    """Export ``refiner`` (built from ``config.temporal_refiner``) in ``config.file_format``; returns the path."""
    import mindspore as ms
    import numpy as np

    from HMR.temporal.registry import refiner_spec
    from model_utils.atomic_files import write_json
    from src.deployment.dynamic_onnx import PROBE, make_onnx_axes_dynamic
    from src.checkpoints import weights_digest
    from src.deployment.export import rename_onnx_values, write_graph
    spec = refiner_spec(config.temporal_refiner)
    fmt = config.file_format.upper()
    if fmt not in SUFFIX:
        raise UserInputError(f"the temporal refiner exports as {' or '.join(SUFFIX)}, not {config.file_format!r}")
    if fmt == "ONNX":
        inputs = [ms.Tensor(np.zeros(s, np.float32)) for s in _input_shapes(*PROBE)]
    else:
        inputs = [ms.Tensor(shape=s, dtype=ms.float32) for s in _input_shapes(None, None)]
    refiner.set_train(False)

    def dynamic_named_onnx(path):
        rename_onnx_values(path, inputs=spec.input_names, outputs=spec.output_names)
        make_onnx_axes_dynamic(path, spec.input_names[0])
    path = write_graph(refiner, inputs, file_name, fmt, dynamic_named_onnx if fmt == "ONNX" else None)
    write_json(path + ".json", {"format": fmt, "kind": "temporal_refiner", "refiner": spec.name,
                                "inputs": list(spec.input_names), "outputs": list(spec.output_names),
                                "dynamic_axes": ["N", "T"], "keypoints": spec.keypoints,
                                "length_unit_m": spec.length_unit, "clip": spec.clip or config.temporal_clip,
                                "checkpoint": config.temporal_checkpoint, "weights_sha1": weights_digest(refiner),
                                "synthetic_body_model": bool(refiner.smpl.synthetic)})
    logger.info("exported the %s temporal refiner as %s (N and T dynamic) -> %s", spec.name, fmt, path)
    return path
