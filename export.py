"""Export an HMR checkpoint for deployment:
``python export.py --checkpoint_file_path CKPT [--file_format MINDIR|ONNX|AIR] [--file_name OUT]
[--export_batch_size N]``.

The graph (``HMR/export_net.py``) includes SMPL and outputs theta, vertices, 3D joints and
2D keypoints. ``--export_batch_size 0`` (default) exports MINDIR with a dynamic batch
dimension; ONNX export needs a fixed batch (0 means 1 there). AIR can only be written on
an Ascend device. ``<file>.json`` beside the graph records its batch, crop size and image
normalisation for the runners.
"""
import logging
import os

from model_utils.entry import run_entry
from model_utils.errors import UserInputError
from model_utils.logger import setup_logging

logger = logging.getLogger("export")

FORMATS = ("MINDIR", "ONNX", "AIR")
SUFFIX = {"MINDIR": ".mindir", "ONNX": ".onnx", "AIR": ".air"}


def export_model(config, model, file_name):
    """Export ``model`` in ``config.file_format``; returns the written path."""
    import mindspore as ms
    import numpy as np

    from HMR.export_net import HMRExportNet
    from src.backends import GRAPH_OUTPUTS
    from src.utils.mesh_io import write_json
    fmt = config.file_format.upper()
    if fmt not in FORMATS:
        raise UserInputError(f"--file_format must be one of {FORMATS}, got {config.file_format!r}")
    if fmt == "AIR" and config.device_target != "Ascend":
        raise UserInputError(f"AIR export needs an Ascend device (device_target is {config.device_target}); "
                             "use --file_format MINDIR here")
    batch = config.export_batch_size
    if batch < 0:
        raise UserInputError(f"--export_batch_size must be >= 0 (0 = dynamic), got {batch}")
    if batch == 0 and fmt != "MINDIR":
        batch = 1
    shape = [None if batch == 0 else batch, 3, config.img_size, config.img_size]
    dummy = ms.Tensor(shape=shape, dtype=ms.float32) if batch == 0 else \
        ms.Tensor(np.zeros(shape, np.float32))
    net = HMRExportNet(model)
    net.set_train(False)
    base = file_name[:-len(SUFFIX[fmt])] if file_name.endswith(SUFFIX[fmt]) else file_name
    folder = os.path.dirname(os.path.abspath(base))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".tmp-{os.getpid()}-{os.path.basename(base)}")
    try:
        ms.export(net, dummy, file_name=tmp, file_format=fmt)  # written read-only; renamed when complete
    except (RuntimeError, TypeError, ValueError) as err:
        raise UserInputError(f"MindSpore could not export {fmt}: {str(err).strip().splitlines()[0]}") from err
    path = base + SUFFIX[fmt]
    os.replace(tmp + SUFFIX[fmt], path)
    write_json(base + ".json", {"format": fmt, "batch": batch or None, "img_size": config.img_size,
                                "image_normalization": config.image_normalization, "pose_head": config.pose_head,
                                "outputs": list(GRAPH_OUTPUTS), "checkpoint": config.checkpoint_file_path,
                                "synthetic_body_model": bool(model.smpl.synthetic)})
    logger.info("exported %s (input %s) -> %s", fmt, ["B" if d is None else d for d in shape], path)
    return path


def main(config):
    from src.builders import build_model, build_smpl, set_mindspore_context
    from src.checkpoint import load_model_weights
    out_dir = os.path.join(config.output_path, "export")
    setup_logging(out_dir)
    if not config.checkpoint_file_path:
        raise UserInputError("--checkpoint_file_path is required (a training or a plain model checkpoint)")
    ms_config = config.replace(graph_mode=True)
    set_mindspore_context(ms_config)
    model = build_model(config, build_smpl(config))
    load_model_weights(config.checkpoint_file_path, model)
    file_name = config.file_name or os.path.join(out_dir, "hmr")
    return export_model(config, model, file_name)


if __name__ == "__main__":
    run_entry(main)
