"""The demo job's deployment leg: export -> CPU inference on .bin files -> overlay pictures.

The same steps a user runs by hand (``export.py``, ``scripts/run_infer_310.sh --device cpu``,
``demo.py``), here in the demo's process on its trained model, all under ``output/demo/``.
"""
import logging
import os
import shutil

logger = logging.getLogger(__name__)

OVERLAY_IMAGES = 4


def deploy(config, smpl, model, out_dir):
    """Returns {"mindir", "onnx", "infer": {mpjpe, pa_mpjpe, ...} from acc.log, "overlays": [...]}."""
    from src.deployment import infer_cpu
    from src.data.schema import load_dataset_npz
    from src.evaluation.runner import evaluate_from_config, read_acc_log, write_acc_log
    from src.deployment.export import export_model
    from src.demo.image_demo import run_image_demo
    from src.inference.bin_io import write_test_inputs
    mindir = export_model(config.replace(file_format="MINDIR", export_batch_size=0), model,
                          os.path.join(out_dir, "hmr"))
    onnx = export_model(config.replace(file_format="ONNX", export_batch_size=0), model, os.path.join(out_dir, "hmr"))
    work = os.path.join(out_dir, "infer")
    inputs, results = os.path.join(work, "preprocess_Result"), os.path.join(work, "result_Files")
    shutil.rmtree(work, ignore_errors=True)
    test_file = write_test_inputs(config, inputs, config.eval_batch_size)["test_file"]
    infer_cpu.run_graph_on_inputs(mindir, inputs, results, config.cpu_backend)
    summary = evaluate_from_config(config.replace(source="results", result_path=results, infer_input_path=inputs),
                                   smpl)
    write_acc_log(summary, os.path.join(work, "acc.log"))
    infer = {k: v for k, v in read_acc_log(os.path.join(work, "acc.log")).items() if k in ("mpjpe", "pa_mpjpe", "pve",
                                                                                              "num_samples")}
    pictures = os.path.join(out_dir, "images")
    sources = os.path.join(pictures, "input")
    os.makedirs(sources, exist_ok=True)
    names = load_dataset_npz(test_file)["imgname"][:OVERLAY_IMAGES]
    for name in names:
        shutil.copy(os.path.join(os.path.dirname(test_file), name), os.path.join(sources, os.path.basename(name)))
    shown = run_image_demo(config.replace(img="", img_folder=sources, out_folder=pictures, model_file=mindir,
                                          bbox="", bbox_file=""), smpl)
    logger.info("deployment: %s, %s; CPU inference MPJPE %.1f mm; %d overlay(s) in %s", mindir, onnx,
                infer["mpjpe"], len(shown["written"]), pictures)
    return {"mindir": mindir, "onnx": onnx, "infer": infer,
            "overlays": [files["overlay"] for files in shown["written"]]}
