"""Export an HMR model as MINDIR, ONNX or AIR (``export.py`` is the command line).

The graph (``HMR/export_net.py``, the architecture spec's ``graph``) takes the crops and the architecture's extra
inputs (CLIFF's bbox_info; HybrIK's bbox and image_center), includes SMPL and outputs theta, vertices, 3D joints
and 2D keypoints (HybrIK: the seed system's twelve outputs). Batch 0 means dynamic: natively for MINDIR; for ONNX by freeing the batch axis
of a static export. AIR can only be written on an Ascend device. ``<graph file>.json`` records the graph's batch,
inputs, crop size, image normalisation and a digest of its weights for the runners.
"""
import logging
import os

from model_utils.errors import UserInputError

logger = logging.getLogger(__name__)

FORMATS = ("MINDIR", "ONNX", "AIR")
SUFFIX = {"MINDIR": ".mindir", "ONNX": ".onnx", "AIR": ".air"}


ONNX_PROBE_BATCH = 7   # dynamic ONNX: exported at this batch, then every batch-sized shape is made free


def make_onnx_batch_dynamic(path, probe_batch=ONNX_PROBE_BATCH, name="batch"):
    """Free the batch axis of a static ONNX export (made at ``probe_batch``), in place.

    MindSpore's exporter writes static shapes only: the graph inputs/outputs get a named
    batch axis and every Reshape whose target starts with the probe batch (ExpandDims and
    friends) gets -1 there. The graph avoids batch-sized constants (see ``HMR/smpl/lbs.py``), so
    the result runs at any batch in onnxruntime (tested at 1 and 3).
    """
    import onnx
    from onnx import numpy_helper
    model = onnx.load(path)
    graph = model.graph
    for value in list(graph.input) + list(graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = name
    del graph.value_info[:]                  # intermediate shapes were inferred for the probe batch
    constants = {n.output[0]: n for n in graph.node if n.op_type == "Constant"}
    initializers = {i.name: i for i in graph.initializer}
    for node in graph.node:
        if node.op_type != "Reshape":
            continue
        holder = constants.get(node.input[1]) or initializers.get(node.input[1])
        tensor = holder.attribute[0].t if hasattr(holder, "attribute") else holder
        shape = numpy_helper.to_array(tensor).copy()
        if shape.size and shape[0] == probe_batch and -1 not in shape:
            shape[0] = -1
            tensor.CopyFrom(numpy_helper.from_array(shape, tensor.name))
    onnx.save(model, path)


def rename_onnx_values(path, inputs=(), outputs=()):
    """Name the graph inputs and outputs of the ONNX file ``path`` ``inputs`` and ``outputs`` (in order; the
    exporter names them after the Python arguments, ``*extra`` ones ``extra0, ...``), in place."""
    import onnx
    model = onnx.load(path)
    graph = model.graph
    input_names = {value.name for value in graph.input}
    passed = [i for i, value in enumerate(graph.output) if value.name in input_names]
    for i in passed:          # an input returned as it is (e.g. a shape passed through) gets its own value
        graph.node.append(onnx.helper.make_node("Identity", [graph.output[i].name], [f"output{i}_of_input"]))
        graph.output[i].name = f"output{i}_of_input"
    renames = {value.name: new for value, new in zip(graph.input, inputs)}
    renames.update({value.name: new for value, new in zip(graph.output, outputs)})
    for node in graph.node:
        node.output[:] = [renames.get(o, o) for o in node.output]
        node.input[:] = [renames.get(i, i) for i in node.input]
    for value in list(graph.input) + list(graph.output):
        value.name = renames.get(value.name, value.name)
    onnx.save(model, path)


def write_graph(net, inputs, file_name, fmt, finish=None):
    """``mindspore.export`` of ``net`` on ``inputs`` as ``<file_name><suffix>``, written atomically: into a
    temporary file beside it (``finish(path)`` may rewrite it, e.g. free an ONNX axis), then renamed.
    Returns the path."""
    import mindspore as ms
    base = file_name[:-len(SUFFIX[fmt])] if file_name.endswith(SUFFIX[fmt]) else file_name
    folder = os.path.dirname(os.path.abspath(base))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".tmp-{os.getpid()}-{os.path.basename(base)}")
    try:
        try:
            ms.export(net, *inputs, file_name=tmp, file_format=fmt)     # written read-only; renamed when complete
        except (RuntimeError, TypeError, ValueError) as err:
            raise UserInputError(f"MindSpore could not export {fmt}: {str(err).strip().splitlines()[0]}") from err
        if finish is not None:
            finish(tmp + SUFFIX[fmt])
        path = base + SUFFIX[fmt]
        os.replace(tmp + SUFFIX[fmt], path)
    finally:
        if os.path.exists(tmp + SUFFIX[fmt]):
            os.remove(tmp + SUFFIX[fmt])
    return path


def export_model(config, model, file_name):
    """Export ``model`` in ``config.file_format``; returns the written path."""
    import mindspore as ms
    import numpy as np

    from HMR.export_net import export_net
    from model_utils.atomic_files import write_json
    from src.builders import architecture, crop_size
    from src.checkpoints import weights_digest
    from src.data.crop import crop_shape
    from src.inference.predictors import graph_inputs, graph_outputs
    fmt = config.file_format.upper()
    if fmt not in FORMATS:
        raise UserInputError(f"--file_format must be one of {FORMATS}, got {config.file_format!r}")
    if fmt == "AIR" and config.device_target != "Ascend":
        raise UserInputError(f"AIR export needs an Ascend device (device_target is {config.device_target}); "
                             "use --file_format MINDIR here")
    batch = config.export_batch_size
    if batch < 0:
        raise UserInputError(f"--export_batch_size must be >= 0 (0 = dynamic), got {batch}")
    dynamic_onnx = batch == 0 and fmt == "ONNX"     # exported at batch 1, then the batch axis is renamed
    if batch == 0 and fmt != "MINDIR":
        batch = ONNX_PROBE_BATCH if dynamic_onnx else 1
    rows = None if batch == 0 else batch
    shapes = [[rows, 3, *crop_shape(crop_size(config))]] + [[rows, *extra.shape] for extra in
                                                             architecture(config).inputs]
    dummies = [ms.Tensor(shape=s, dtype=ms.float32) if batch == 0 else ms.Tensor(np.zeros(s, np.float32))
               for s in shapes]
    net = export_net(model, architecture(config).graph)
    net.set_train(False)
    names, outputs = graph_inputs(config), graph_outputs(config)

    def name_onnx_values(onnx_file):       # the exporter's names are its op scopes and extra0, ...
        if dynamic_onnx:
            make_onnx_batch_dynamic(onnx_file)
        rename_onnx_values(onnx_file, inputs=names, outputs=outputs)
    path = write_graph(net, dummies, file_name, fmt, name_onnx_values if fmt == "ONNX" else None)
    write_json(path + ".json", {"format": fmt, "batch": None if dynamic_onnx else batch or None,
                                "img_size": config.img_size,
                                "img_width": crop_shape(crop_size(config))[1], "architecture": config.architecture,
                                "image_normalization": config.image_normalization, "pose_head": config.pose_head,
                                "inputs": list(names), "outputs": list(outputs),
                                "checkpoint": config.checkpoint_file_path, "weights_sha1": weights_digest(model),
                                "synthetic_body_model": bool(model.smpl.synthetic)})
    logger.info("exported %s (inputs %s) -> %s", fmt, [["B" if d is None else d for d in s] for s in shapes], path)
    return path
