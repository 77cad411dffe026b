"""Inference latency per image (``bash scripts/run_bench.sh infer``), all in one run:

the HMR model (ResNet-50, 224 px, SMPL in the graph) as (a) the checkpoint's Cell in GRAPH_MODE,
(b) the exported MINDIR through ``mindspore.load`` + ``nn.GraphCell`` and (c) the exported ONNX
through onnxruntime (2 threads), (d) the CPU fallback runner's default for a MINDIR
(``cpu_backend auto``: its ONNX twin) and (e) the static INT8 quantisation of (c) in onnxruntime
(``export.py --quantize int8``; calibrated here on 16 random crops: speed does not depend on the
ranges), at batch 1 and 8.
"""
import os
import platform
import tempfile

import numpy as np

from model_utils.device_adapter import configure_cpu_isa

SIDE = 224
BATCHES = (1, 8)


def main(rounds=3, repeat=3):
    configure_cpu_isa()
    import mindspore as ms

    from model_utils.config import load_config
    from src.inference.predictors import CheckpointPredictor, MindirPredictor, OnnxPredictor, graph_predictor
    from src.builders import build_model, build_smpl, set_mindspore_context
    from src.deployment.export import export_model
    from src.deployment.quantize import quantize_onnx_int8
    from src.data.synthetic.write_model import write_body_model
    from tests.benchmarks.timing import interleaved, print_table

    folder = tempfile.mkdtemp(prefix="bench_infer_")
    write_body_model(folder)
    config = load_config(["--data_path", folder, "--output_path", folder])
    set_mindspore_context(config)
    model = build_model(config, build_smpl(config))
    mindir = export_model(config.replace(file_format="MINDIR", export_batch_size=0), model, os.path.join(folder, "h"))
    onnx = export_model(config.replace(file_format="ONNX", export_batch_size=0), model, os.path.join(folder, "h"))
    calibration = [(np.random.default_rng(k).normal(size=(4, 3, SIDE, SIDE)).astype(np.float32), None)
                   for k in range(4)]
    int8 = quantize_onnx_int8(onnx, calibration)
    predictors = {"ckpt": CheckpointPredictor(model), "mindir": MindirPredictor(mindir),
                  "onnx": OnnxPredictor(onnx, threads=os.cpu_count()),
                  "fallback": graph_predictor(mindir, cpu_backend="auto"),
                  "int8": OnnxPredictor(int8, threads=os.cpu_count())}
    rows = []
    for batch in BATCHES:
        images = np.random.default_rng(batch).normal(size=(batch, 3, SIDE, SIDE)).astype(np.float32)
        calls = {name: (lambda p=p: p(images)) for name, p in predictors.items()}
        times = {k: v / batch for k, v in interleaved(calls, rounds, repeat).items()}
        rows.append((batch, f"{times['ckpt']:.1f}", f"{times['mindir']:.1f}", f"{times['onnx']:.1f}",
                     f"{times['fallback']:.1f}", f"{times['mindir'] / times['onnx']:.2f}",
                     f"{times['fallback'] / times['onnx']:.2f}", f"{times['int8']:.1f}",
                     f"{times['int8'] / times['onnx']:.2f}"))
    print_table(f"Inference, HMR ResNet-50 {SIDE}x{SIDE} with SMPL, ms per image (median), {platform.machine()}, "
                f"{os.cpu_count()} cores, MindSpore {ms.__version__}",
                ("batch", "(a) checkpoint, graph mode", "(b) MINDIR, GraphCell", "(c) ONNX, onnxruntime",
                 "(d) CPU fallback default", "(b)/(c)", "(d)/(c)", "(e) INT8 ONNX, onnxruntime", "(e)/(c)"), rows)
    from src.data.synthetic.body_model import build_body_model
    from tests.benchmarks.bench_hmr2 import infer_rows
    print_table(*infer_rows(os.path.join(folder, "neutral_smpl_with_cocoplus_reg.pkl"),
                            build_body_model(0)["cocoplus_regressor"]))
    from tests.benchmarks import bench_hybrik
    print_table(*bench_hybrik.infer_rows(folder))


if __name__ == "__main__":
    main()
