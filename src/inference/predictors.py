"""Where predictions come from: a checkpoint, an exported MINDIR or ONNX graph, or result files.

Every backend yields the same batches -- ``(indices (B,), vertices (B, V, 3), joints (B, K, 3),
valid (B,))`` in metres, optionally followed by ``{variant: (vertices, joints)}`` (e.g. the
network's prediction after ``--fit_steps``) -- so evaluation has one metric code path whatever
ran the model.

Exported graphs (``export.py``) take normalised images (B, 3, H, W) and the architecture's extra inputs
(``HMR.architectures``; CLIFF's bbox_info (B, 3)) and return ``HMR.outputs.GRAPH_OUTPUTS``
(``theta (B, 85), vertices, joints3d, keypoints2d``), or outputs of their own that the graph's decoder
(``HMR.export_net.GRAPHS``; HybrIK's twelve) turns into those; a static-batch graph gets its last
batch padded. ``export.py`` writes ``<graph file>.json`` beside each graph (batch, image size,
normalisation, weights digest); a graph that disagrees with the evaluation's config is refused.
"""
import json
import logging
import os

import numpy as np

from HMR.outputs import GRAPH_OUTPUTS, graph_outputs_of, named, split_theta
from model_utils.errors import UserInputError

logger = logging.getLogger(__name__)

SOURCES = ("ckpt", "mindir", "onnx", "results")
IMAGES_INPUT = "images"     # every graph's first input; the architecture's extra inputs follow
INT8_SUFFIX = "_int8.onnx"


def int8_path(onnx_file):
    """``<stem>_int8.onnx`` beside an ONNX (or MINDIR) export: its INT8 quantisation (``src/deployment/quantize.py``)."""
    return os.path.splitext(onnx_file)[0] + INT8_SUFFIX


def graph_inputs(config):
    """The exported graph's input names for ``config.architecture``: its graph's image input (``images``; HybrIK's
    ``input_image``), then its extra inputs."""
    from HMR.export_net import GRAPHS
    from src.builders import architecture, extra_inputs
    return (GRAPHS.get(architecture(config).graph).fact("image_input"),) + extra_inputs(config)


def graph_outputs(config):
    """The exported graph's output names for ``config.architecture`` (``HMR.export_net.GRAPHS``)."""
    from HMR.export_net import GRAPHS
    from src.builders import architecture
    return GRAPHS.get(architecture(config).graph).fact("outputs")


class GraphDecoder:
    """An exported graph's own outputs and its inputs -> the four ``GRAPH_OUTPUTS`` (numpy), by the graph's
    decoder Cell (``HMR.export_net.GRAPHS``)."""

    def __init__(self, cell):
        self.cell = cell
        cell.set_train(False)

    def __call__(self, outputs, inputs):
        """outputs: the graph's outputs in order, each (B, ...) (flattened per row is fine); inputs: the graph's
        inputs (images first, then its extra inputs), each (B, ...)."""
        import mindspore as ms
        decoded = self.cell(*(ms.Tensor(np.ascontiguousarray(x, np.float32)) for x in (*outputs, *inputs[1:])))
        return graph_outputs_of(o.asnumpy() for o in decoded)


def graph_decoder(config, smpl):
    """The :class:`GraphDecoder` of ``config.architecture``'s exported graph, or None when the graph returns
    ``GRAPH_OUTPUTS`` itself."""
    from HMR.export_net import GRAPHS
    from src.builders import architecture
    decoder = GRAPHS.get(architecture(config).graph).fact("decoder")
    return None if decoder is None else GraphDecoder(decoder(smpl))


def read_graph_info(model_file):
    """The sidecar ``<graph file>.json`` written by export.py, or {} when there is none."""
    path = model_file + ".json"
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


GRAPH_SETTINGS = ("architecture", "img_size", "img_width", "image_normalization")


def with_graph_settings(config, info):
    """``config`` with the architecture, crop size and normalisation a graph was exported with (its ``info``)."""
    return config.replace(**{key: info[key] for key in GRAPH_SETTINGS if key in info})


def check_graph_info(model_file, info, config):
    """Refuse a graph exported for another architecture, crop size or image normalisation."""
    from src.builders import crop_size
    from src.data.crop import crop_shape
    wants = {"architecture": config.architecture, "img_size": config.img_size,
             "img_width": crop_shape(crop_size(config))[1], "image_normalization": config.image_normalization}
    for key, want in wants.items():
        if key in info and info[key] != want:
            raise UserInputError(f"{model_file}: exported with {key}={info[key]!r}, but this run uses {want!r} "
                                 f"(pass --{key} {info[key]})")


def pad_rows(array, rows):
    """``array`` (B, ...) with zero rows appended up to ``rows`` (B <= rows)."""
    return np.concatenate([array, np.zeros((rows - len(array),) + array.shape[1:], array.dtype)])


class CheckpointPredictor:
    """The HMR Cell itself (GRAPH_MODE when configured). Any batch size; ``pad_to``: a batch of fewer
    rows (a dataset's last one) is padded to this many with zero rows, so that the compiled graph keeps
    one input shape (in inference mode every row is computed on its own; the padding is dropped)."""

    fixed_batch = None

    def __init__(self, model, pad_to=None):
        self.model, self.pad_to = model, pad_to
        model.set_train(False)

    def run_all(self, images, *extra):
        """theta (B, 85), vertices, joints3d, keypoints2d, as the exported graphs return them.

        images (B, 3, H, W); extra: the architecture's extra inputs (CLIFF: bbox_info (B, 3))."""
        import mindspore as ms
        count = len(images)
        if self.pad_to and count < self.pad_to:
            images, *extra = (pad_rows(x, self.pad_to) for x in (images, *extra))
        return graph_outputs_of(o.asnumpy()[:count]
                                for o in self.model(ms.Tensor(images), None, *(ms.Tensor(x) for x in extra)))

    def __call__(self, images, *extra):
        return _meshes_of(self.run_all(images, *extra))


def _meshes_of(outputs):
    """(vertices, joints3d) of the four graph outputs."""
    named_outputs = named(outputs, GRAPH_OUTPUTS)
    return named_outputs["vertices"], named_outputs["joints3d"]


class _GraphPredictor:
    """An exported graph: ``run_raw`` gives its own outputs, ``run_all`` the four ``GRAPH_OUTPUTS`` (through
    ``decode``, a :class:`GraphDecoder`, when the graph has outputs of its own)."""

    decode = None

    def run_all(self, images, *extra):
        """The four ``GRAPH_OUTPUTS`` as numpy arrays; ``extra``: the graph's extra inputs."""
        outputs = self.run_raw(images, *extra)
        return self.decode(outputs, (images, *extra)) if self.decode is not None else outputs

    def __call__(self, images, *extra):
        return _meshes_of(self.run_all(images, *extra))


class MindirPredictor(_GraphPredictor):
    """An exported MINDIR run by ``mindspore.load`` + ``nn.GraphCell`` (the CPU fallback runner)."""

    def __init__(self, model_file, fixed_batch=None, decode=None):
        import mindspore as ms
        from mindspore import nn
        if not os.path.isfile(model_file):
            raise UserInputError(f"--model_file not found: {model_file}")
        self.graph = nn.GraphCell(ms.load(model_file))
        self.fixed_batch, self.decode = fixed_batch, decode
        self.input_names = tuple(read_graph_info(model_file).get("inputs", (IMAGES_INPUT,)))

    def run_raw(self, images, *extra):
        """The graph's outputs as numpy arrays."""
        import mindspore as ms
        return [o.asnumpy() for o in self.graph(*(ms.Tensor(x) for x in (images, *extra)))]


class OnnxPredictor(_GraphPredictor):
    """An exported ONNX graph run by onnxruntime (CPU)."""

    def __init__(self, model_file, threads=0, decode=None):
        try:
            import onnxruntime as ort
        except ImportError as err:
            raise UserInputError("--source onnx needs onnxruntime (pip install onnxruntime)") from err
        if not os.path.isfile(model_file):
            raise UserInputError(f"--model_file not found: {model_file}")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(model_file, options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        batch = self.session.get_inputs()[0].shape[0]
        self.fixed_batch = batch if isinstance(batch, int) else None
        self.decode = decode

    def run_raw(self, images, *extra):
        """The graph's outputs as numpy arrays."""
        return self.session.run(None, dict(zip(self.input_names, (images, *extra))))


CPU_BACKENDS = ("auto", "mindspore", "onnxruntime", "onnx-int8")


def onnx_twin(mindir_file, batch=None):
    """The ONNX export of the same weights beside a MINDIR, or None.

    Same stem, equal weight digests, and a batch axis that takes ``batch`` (dynamic or equal).
    """
    twin = os.path.splitext(mindir_file)[0] + ".onnx"
    if not os.path.isfile(twin):
        return None
    digest, info = read_graph_info(mindir_file).get("weights_sha1"), read_graph_info(twin)
    if not digest or digest != info.get("weights_sha1"):
        return None
    return twin if info.get("batch") in (None, batch) or batch is None else None


def graph_predictor(model_file, fixed_batch=None, cpu_backend="mindspore", decode=None):
    """Predictor of an exported graph on the CPU.

    ``.onnx`` runs in onnxruntime. A MINDIR runs in MindSpore (``GraphCell``), except with
    ``cpu_backend`` ``auto``/``onnxruntime`` when its ONNX twin exists: onnxruntime is ~2.9x
    faster on this model on CPU (``scripts/run_bench.sh infer``). ``onnx-int8`` runs the
    graph's INT8 quantisation ``<stem>_int8.onnx`` (``export.py --quantize int8``). ``decode``: the graph's
    :class:`GraphDecoder` (:func:`graph_decoder`), for ``run_all``.
    """
    if cpu_backend not in CPU_BACKENDS:
        raise UserInputError(f"--cpu_backend must be one of {CPU_BACKENDS}, got {cpu_backend!r}")
    if cpu_backend == "onnx-int8":
        quantized = model_file if model_file.endswith(INT8_SUFFIX) else int8_path(model_file)
        if not os.path.isfile(quantized):
            raise UserInputError(f"--cpu_backend onnx-int8: no {quantized} beside {model_file} "
                                 "(export.py --quantize int8 writes it)")
        logger.info("running the INT8 quantisation %s of %s in onnxruntime", quantized, model_file)
        return OnnxPredictor(quantized, decode=decode)
    if model_file.endswith(".onnx"):
        return OnnxPredictor(model_file, decode=decode)
    if cpu_backend != "mindspore":
        twin = onnx_twin(model_file, fixed_batch)
        if twin:
            logger.info("running %s through its ONNX twin %s (same weights) in onnxruntime", model_file, twin)
            return OnnxPredictor(twin, decode=decode)
        if cpu_backend == "onnxruntime":
            raise UserInputError(f"--cpu_backend onnxruntime: no ONNX export of the same weights beside {model_file} "
                                 "(export.py --onnx_twin true writes one)")
    return MindirPredictor(model_file, fixed_batch, decode)


def build_predictor(config, model=None, smpl=None):
    """The predictor for ``config.source`` (``ckpt`` needs the built ``model``; an exported graph with outputs of
    its own needs ``smpl`` for its decoder)."""
    if config.source == "ckpt":
        return CheckpointPredictor(model, config.eval_batch_size)
    if not config.model_file:
        raise UserInputError(f"--source {config.source} needs --model_file (the exported graph)")
    info = read_graph_info(config.model_file)
    check_graph_info(config.model_file, info, config)
    decode = graph_decoder(config, smpl) if config.source in ("mindir", "onnx") else None
    if config.source == "mindir":
        return MindirPredictor(config.model_file, info.get("batch"), decode)
    if config.source == "onnx":
        return OnnxPredictor(config.model_file, decode=decode)
    raise UserInputError(f"--source must be one of {SOURCES}, got {config.source!r}")


class FittingPredictor:
    """Any predictor followed by SMPL fitting to the batch's 2D keypoints (``src/inference/fitting.py``).

    Returns the network's prediction and, as variant ``refined``, the fit's. Collects the
    per-sample reprojection errors before/after (crop pixels) in ``errors``.
    """

    needs_keypoints = True
    variant = "refined"

    def __init__(self, predictor, fitter):
        self.predictor, self.fitter = predictor, fitter
        self.fixed_batch = predictor.fixed_batch
        self.errors = {"reprojection_before": [], "reprojection_after": []}

    def __call__(self, images, keypoints, *extra):
        """-> (vertices, joints) of the network, {``refined``: (vertices, joints)} of the fit."""
        outputs = named(self.predictor.run_all(images, *extra), GRAPH_OUTPUTS)
        count = len(keypoints)
        theta = split_theta(outputs["theta"][:count])
        fit = self.fitter.fit(theta["pose"], theta["betas"], theta["cam"], keypoints)
        for key in self.errors:
            self.errors[key].append(fit[key])
        vertices, joints, _ = self.fitter.posed(fit["pose"], fit["betas"], fit["cam"])
        return outputs["vertices"][:count], outputs["joints3d"][:count], {self.variant: (vertices, joints)}


class AdaptingPredictor:
    """The checkpoint's network followed by Meta-HMR's test-time adaptation on the batch's 2D
    keypoints (``src/inference/adaptation.py``). Returns the network's prediction and, as variant
    ``adapted``, the adapted network's. Collects per sample the 2D errors before/after (crop
    pixels) and the steps taken in ``errors``."""

    needs_keypoints = True
    variant = "adapted"
    fixed_batch = None

    def __init__(self, model, adapter):
        from src.inference.fitting import keypoint_pixel_error
        self.network, self.adapter, self.pixel_error = CheckpointPredictor(model), adapter, keypoint_pixel_error
        self.errors = {"keypoint_error_before": [], "keypoint_error_after": [], "steps_taken": []}

    def __call__(self, images, keypoints, *extra):
        """-> (vertices, joints) of the network, {``adapted``: (vertices, joints)} of the adapted network."""
        plain = named(self.network.run_all(images, *extra), GRAPH_OUTPUTS)
        adapted, report = self.adapter.adapt(images, keypoints, *extra)
        self.errors["keypoint_error_before"].append(self.pixel_error(plain["keypoints2d"], keypoints,
                                                                     self.adapter.crop_height))
        self.errors["keypoint_error_after"].append(report["keypoint_error_after"])
        self.errors["steps_taken"].append(report["steps"])
        return plain["vertices"], plain["joints3d"], {self.variant: _meshes_of(adapted)}


def predict_dataset(predictor, source, batch_size, num_workers=1):
    """Run ``predictor`` over an EvalSource in file order.

    Yields (indices, vertices, joints, valid, variants): ``variants`` maps a name to
    (vertices, joints) of another prediction of the same batch (``{}`` for plain predictors).
    """
    from tqdm import tqdm

    from src.data.pipeline import create_eval_dataset
    batch_size = predictor.fixed_batch or batch_size
    dataset = create_eval_dataset(source, batch_size, num_workers)
    for batch in tqdm(dataset.create_tuple_iterator(output_numpy=True), total=dataset.get_dataset_size(),
                      desc="eval", unit="batch", disable=len(source) < 4 * batch_size):
        columns = dict(zip(source.columns, batch))
        images, valid, indices = columns["image"], columns["valid"], columns["index"]
        extra = [columns[name] for name in source.extra_inputs]
        count = len(images)
        if predictor.fixed_batch and count < predictor.fixed_batch:
            images, *extra = (pad_rows(x, predictor.fixed_batch) for x in (images, *extra))
        if getattr(predictor, "needs_keypoints", False):
            vertices, joints, variants = predictor(images, columns["keypoints"], *extra)
        else:
            (vertices, joints), variants = predictor(images, *extra), {}
        yield (indices, vertices[:count], joints[:count], valid,
               {name: (v[:count], j[:count]) for name, (v, j) in variants.items()})


def frame_predictions(config, model, path):
    """The per-frame model's SMPL estimate of every row of the dataset ``path`` (crops of its
    boxes, file order): pose (N, 72) axis-angle and betas (N, 10)."""
    from HMR.outputs import THETA_SIZE
    from src.builders import build_eval_source
    from src.data.pipeline import create_eval_dataset
    predictor = CheckpointPredictor(model, config.eval_batch_size)
    source = build_eval_source(config, path)
    theta = np.zeros((len(source), THETA_SIZE), np.float32)
    dataset = create_eval_dataset(source, config.eval_batch_size, config.num_workers)
    for batch in dataset.create_tuple_iterator(output_numpy=True):
        columns = dict(zip(source.columns, batch))
        theta[columns["index"]] = predictor.run_all(columns["image"], *(columns[n] for n in source.extra_inputs))[0]
    estimate = split_theta(theta)
    return {"pose": estimate["pose"], "betas": estimate["betas"]}
