"""The ``.bin`` exchange with the Ascend 310 runner (and its CPU fallback).

Layout of an inference work folder (``scripts/run_infer_310.sh`` makes one)::

    preprocess_Result/images/hmr_000000.bin   (B, 3, H, W) float32, C order, normalised images
    preprocess_Result/<input>/hmr_000000.bin  one folder per extra graph input of the architecture
                                              (``HMR.architectures``; CLIFF: bbox_info, (B, 3) float32)
    preprocess_Result/preprocess.json         batch, img_size, normalisation, dataset file, the graph's
                                              input names and per-sample shapes (``inputs``,
                                              ``input_shapes``), its output names (``outputs``) and, per
                                              input file, the dataset indices and validity
    result_Files/hmr_000000_0.bin ..          the graph's outputs for that input, in order (``outputs`` of
                                              preprocess.json): theta (B, 85), vertices (B, V, 3),
                                              joints3d (B, K, 3), keypoints2d (B, K, 2); HybrIK's graph its
                                              twelve (``HMR.outputs.HYBRIK_SEED_OUTPUTS``); float32

The last input file is padded with zero images to the batch (static graphs need it); its
``indices`` list only the real samples. Result names follow the runner's rule: input stem,
``_``, output index, ``.bin`` (``ascend310_infer/src/utils.cc``).
"""
import json
import os

import numpy as np

from model_utils.errors import UserInputError
from model_utils.atomic_files import atomic_write, write_json

INPUT_FOLDER, META_NAME = "images", "preprocess.json"     # the images' folder; each extra input's is its name


def input_name(batch_number):
    return f"hmr_{batch_number:06d}.bin"


def result_name(input_file, output_index):
    return f"{os.path.splitext(os.path.basename(input_file))[0]}_{output_index}.bin"


def _pad(array, batch_size):
    return np.concatenate([array, np.zeros((batch_size - len(array),) + array.shape[1:], array.dtype)])


def write_inputs(source, out_dir, batch_size, num_workers, extra_meta):
    """Write an EvalSource as padded batches of float32 images (and its extra inputs, one folder each)
    + ``preprocess.json``. Returns the meta."""
    from src.data.pipeline import create_eval_dataset
    columns = ("image",) + source.extra_inputs
    folders = (INPUT_FOLDER,) + source.extra_inputs
    for folder in folders:
        os.makedirs(os.path.join(out_dir, folder), exist_ok=True)
    batches, shapes = [], {}
    dataset = create_eval_dataset(source, batch_size, num_workers)
    for number, batch in enumerate(dataset.create_tuple_iterator(output_numpy=True)):
        named_columns = dict(zip(source.columns, batch))
        name = input_name(number)
        for folder, column in zip(folders, columns):
            shapes[folder] = list(named_columns[column].shape[1:])
            with atomic_write(os.path.join(out_dir, folder, name)) as handle:
                handle.write(np.ascontiguousarray(_pad(named_columns[column], batch_size), np.float32).tobytes())
        batches.append({"file": name, "indices": named_columns["index"].tolist(),
                        "valid": named_columns["valid"].tolist()})
    meta = dict(extra_meta, batch=batch_size, num_samples=len(source), inputs=list(folders),
                input_shapes=[shapes.get(f) for f in folders], batches=batches)
    write_json(os.path.join(out_dir, META_NAME), meta)
    return meta


def write_test_inputs(config, out_dir, batch_size):
    """Write the test file of ``config.dataset`` as ``.bin`` inputs (``write_inputs``). Returns the meta."""
    from src.builders import build_eval_source, crop_size
    from src.data.crop import crop_shape
    from src.data.test_sets import get_protocol, protocol_file
    from src.inference.predictors import graph_outputs
    test_file = protocol_file(get_protocol(config.dataset), config.data_path, config.eval_dataset)
    return write_inputs(build_eval_source(config, test_file), out_dir, batch_size, config.num_workers,
                        {"dataset": config.dataset, "test_file": os.path.abspath(test_file),
                         "crop": list(crop_shape(crop_size(config))), "architecture": config.architecture,
                         "image_normalization": config.image_normalization,
                         "outputs": list(graph_outputs(config))})


def read_meta(input_dir):
    path = os.path.join(input_dir, META_NAME)
    if not os.path.isfile(path):
        raise UserInputError(f"preprocess metadata not found: {path} (run preprocess.py first)")
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def read_input(path, shape):
    """One input file as float32 of ``shape`` (batch, ...)."""
    data = np.fromfile(path, np.float32)
    if data.size != int(np.prod(shape)):
        raise UserInputError(f"{path}: holds {data.size} floats, expected {'x'.join(str(d) for d in shape)}")
    return data.reshape(shape)


def read_batch_inputs(input_dir, meta, entry):
    """The graph inputs of one batch file, in the graph's order: [images (B, 3, H, W), *extra inputs]."""
    batch = meta["batch"]
    names = meta.get("inputs", [INPUT_FOLDER])
    shapes = meta.get("input_shapes", [[3, *meta["crop"]]])
    return [read_input(os.path.join(input_dir, name, entry["file"]), (batch, *shape))
            for name, shape in zip(names, shapes)]


def write_results(result_dir, input_file, outputs):
    """Write one input's outputs as ``<stem>_<i>.bin`` (what the C++ runner writes)."""
    os.makedirs(result_dir, exist_ok=True)
    for index, output in enumerate(outputs):
        with atomic_write(os.path.join(result_dir, result_name(input_file, index))) as handle:
            handle.write(np.ascontiguousarray(output, np.float32).tobytes())


def _read_result(result_dir, entry, index, batch, row_size):
    """Output ``index`` of one input file as (batch, -1, row_size) float32."""
    path = os.path.join(result_dir, result_name(entry["file"], index))
    if not os.path.isfile(path):
        raise UserInputError(f"result file not found: {path} (the runner writes one per input and output)")
    data = np.fromfile(path, np.float32)
    if data.size % (batch * row_size):
        raise UserInputError(f"{path}: {data.size} floats is not batch {batch} x rows of {row_size}")
    return data.reshape(batch, -1, row_size)


def read_results(result_dir, input_dir, decode=None):
    """Yield (indices, vertices (B, V, 3), joints (B, K, 3), valid) from the runner's result files.

    ``decode``: the graph's :class:`src.inference.predictors.GraphDecoder` when its outputs (preprocess.json's
    ``outputs``) are its own (HybrIK's): all of them and the batch's inputs go through it."""
    from HMR.outputs import GRAPH_OUTPUTS
    meta = read_meta(input_dir)
    batch, names = meta["batch"], meta.get("outputs", list(GRAPH_OUTPUTS))
    if decode is None and not {"vertices", "joints3d"} <= set(names):
        raise UserInputError(f"{input_dir}: the graph's outputs {names} are read with its architecture's decoder "
                             f"(pass --architecture {meta.get('architecture')})")
    for entry in meta["batches"]:
        count = len(entry["indices"])
        if decode is None:
            vertices, joints = (_read_result(result_dir, entry, names.index(name), batch, 3)
                                for name in ("vertices", "joints3d"))
        else:
            outputs = [_read_result(result_dir, entry, index, batch, 1)[:count, :, 0] for index in range(len(names))]
            inputs = [x[:count] for x in read_batch_inputs(input_dir, meta, entry)]
            decoded = dict(zip(GRAPH_OUTPUTS, decode(outputs, inputs)))
            vertices, joints = decoded["vertices"], decoded["joints3d"]
        yield np.asarray(entry["indices"]), vertices[:count], joints[:count], np.asarray(entry["valid"], np.float32)
