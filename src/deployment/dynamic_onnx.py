"""Free the leading (N, T) axes of a static ONNX export, for sequence models.

MindSpore's exporter writes the shapes of the example inputs into the graph. A model exported
at probe sizes (N, T) = :data:`PROBE` (values no other axis or index of the refiner has)
becomes dynamic in both by rewriting what carries them:

- graph inputs and outputs: the two leading axes are named ``N`` and ``T``;
- a Reshape target ``[N, T, rest...]`` becomes ``Concat(Shape(reference input)[:2], rest)``;
- a Reshape target ``[N * T, rest...]`` (frames flattened for SMPL) becomes ``[-1, rest...]``;
- a Slice ending at T (e.g. the first T rows of a temporal position table) ends at the input's T.

Any other integer constant holding a probe value (or a Reshape target holding a multiple of
N x T), and any constant tensor of shape (N, T, ...) or (N x T, ...), means the graph depends on N or T in a way
this cannot free: that stops the export with the node's name instead of writing a graph that
runs wrong at other sizes. The models are written so that it does not happen (no reshape of
the batch or time axes except these two forms; ``HMR/temporal/space_time.py``, ``HMR/smpl/lbs.py``).
"""
import numpy as np

PROBE = (29, 31)                      # (N, T) at export time
AXIS_NAMES = ("N", "T")
SMALL_CONSTANT = 64                   # integer constants up to this size are checked for probe values


class DynamicExportError(RuntimeError):
    """The exported graph keeps a probe-sized shape that cannot be freed."""


def _constant_tensors(graph):
    """{value name: TensorProto} of Constant nodes and initializers."""
    tensors = {i.name: i for i in graph.initializer}
    tensors.update({n.output[0]: n.attribute[0].t for n in graph.node if n.op_type == "Constant"})
    return tensors


def _tied(values, probe):
    """Whether shape values hold N x T (alone or times other sizes)."""
    size = probe[0] * probe[1]
    return bool(np.any((np.asarray(values) % size == 0) & (np.asarray(values) != 0)))


def _slice_to_time(node, ends, lead, nodes, extra, probe=PROBE):
    """Rewrite the Slice ``node``'s constant ``ends``: entries equal to the T probe become the input's T
    (``lead`` holds [N, T]); appends the nodes and constants that compute it."""
    from onnx import helper, numpy_helper
    stem = node.output[0]
    is_time = (ends == probe[1]).astype(np.int64)
    extra.extend([numpy_helper.from_array(ends * (1 - is_time), f"{stem}_ends_kept"),
                  numpy_helper.from_array(is_time, f"{stem}_ends_time"),
                  numpy_helper.from_array(np.array([1], np.int64), f"{stem}_t_start"),
                  numpy_helper.from_array(np.array([2], np.int64), f"{stem}_t_stop")])
    nodes.extend([helper.make_node("Slice", [lead, f"{stem}_t_start", f"{stem}_t_stop"], [f"{stem}_t"]),
                  helper.make_node("Mul", [f"{stem}_ends_time", f"{stem}_t"], [f"{stem}_ends_t"]),
                  helper.make_node("Add", [f"{stem}_ends_kept", f"{stem}_ends_t"], [f"{stem}_ends"])])
    node.input[2] = f"{stem}_ends"


def make_onnx_axes_dynamic(path, reference_input, probe=PROBE, names=AXIS_NAMES):
    """Rewrite the ONNX file ``path`` in place (see the module docstring).

    Args:
        reference_input: name of a graph input whose first two axes are (N, T).
    """
    import onnx
    from onnx import helper, numpy_helper
    n_probe, t_probe = probe
    model = onnx.load(path)
    graph = model.graph
    for value in list(graph.input) + list(graph.output):
        dims = value.type.tensor_type.shape.dim
        if [d.dim_value for d in dims[:2]] != [n_probe, t_probe]:
            raise DynamicExportError(f"{value.name}: leading axes {[d.dim_value for d in dims[:2]]}, expected {probe}")
        for dim, name in zip(dims, names):
            dim.dim_param = name
    del graph.value_info[:]                  # intermediate shapes were inferred at the probe sizes
    tensors = _constant_tensors(graph)
    leading = ["dynamic_axes_shape", "dynamic_axes_lead"]
    prologue = [helper.make_node("Shape", [reference_input], [leading[0]]),
                helper.make_node("Slice", [leading[0], "dynamic_axes_start", "dynamic_axes_stop"], [leading[1]])]
    extra = [numpy_helper.from_array(np.array([0], np.int64), "dynamic_axes_start"),
             numpy_helper.from_array(np.array([2], np.int64), "dynamic_axes_stop")]
    handled, nodes = set(), []
    for node in graph.node:
        if node.op_type == "Reshape" and node.input[1] in tensors:
            target = numpy_helper.to_array(tensors[node.input[1]])
            rest = target[2:]
            if target.size >= 2 and list(target[:2]) == [n_probe, t_probe] and not _tied(rest, probe):
                extra.append(numpy_helper.from_array(rest.astype(np.int64), f"{node.output[0]}_rest"))
                nodes.append(helper.make_node("Concat", [leading[1], f"{node.output[0]}_rest"],
                                              [f"{node.output[0]}_target"], axis=0))
                node.input[1] = f"{node.output[0]}_target"
                handled.add(node.input[1])
            elif target.size and target[0] == n_probe * t_probe and -1 not in target and not _tied(target[1:], probe):
                fixed = target.copy()
                fixed[0] = -1
                tensors[node.input[1]].CopyFrom(numpy_helper.from_array(fixed, tensors[node.input[1]].name))
                handled.add(node.input[1])
        elif node.op_type == "Slice" and len(node.input) > 2 and node.input[2] in tensors:
            ends = numpy_helper.to_array(tensors[node.input[2]]).astype(np.int64)
            if np.isin(ends, [t_probe]).any() and not np.isin(ends, [n_probe]).any():
                _slice_to_time(node, ends, leading[1], nodes, extra)
                handled.add(node.input[2])
        nodes.append(node)
    for name, tensor in tensors.items():
        if list(tensor.dims[:2]) == [n_probe, t_probe] or (tensor.dims and tensor.dims[0] == n_probe * t_probe):
            raise DynamicExportError(f"the constant {name} has the probe-sized shape {list(tensor.dims)}")
    for node in nodes:
        for name in node.input:
            tensor = tensors.get(name)
            if tensor is None or name in handled or tensor.data_type not in (onnx.TensorProto.INT64,
                                                                               onnx.TensorProto.INT32):
                continue
            values = numpy_helper.to_array(tensor)
            if values.size <= SMALL_CONSTANT and (np.isin(values, probe).any() or
                                                  (node.op_type == "Reshape" and _tied(values, probe))):
                raise DynamicExportError(f"node {node.name or node.op_type} ({node.op_type}) has the constant "
                                         f"{values.tolist()}, which holds a probe size of {probe}")
    graph.initializer.extend(extra)
    del graph.node[:]
    graph.node.extend(prologue + nodes)
    onnx.checker.check_model(model)
    onnx.save(model, path)
