"""Config -> an evaluation: protocol, test file, prediction source, ground-truth meshes, metrics."""
import logging
import os

import numpy as np

from model_utils.errors import UserInputError

logger = logging.getLogger(__name__)


def build_gt_meshes(config, smpl, protocol, data):
    """Ground-truth mesh layers: gendered models for test files with genders (3DPW), else neutral."""
    from src.evaluation.evaluate import GroundTruthMeshes
    if protocol["ground_truth"] != "smpl" or "gender" not in data:
        return GroundTruthMeshes(smpl)
    from HMR import SMPL
    from src.data.model_files import resolve_gendered_models
    return GroundTruthMeshes(smpl, {g: SMPL(p) for g, p in resolve_gendered_models(config).items()})


def prediction_batches(config, smpl, test_file, model=None):
    """(batches, test arrays, description of the source, the Fitting/AdaptingPredictor or None) for
    ``config.source``."""
    from HMR.constants import J24_TO_COCOPLUS19, J24_TO_LSP14
    from src.builders import build_eval_source
    from src.data.schema import load_dataset_npz
    from src.inference.adaptation import build_adapter
    from src.inference.fitting import build_fitter
    from src.inference.loading import load_model
    from src.inference.predictors import AdaptingPredictor, FittingPredictor, build_predictor, predict_dataset
    if config.source == "results":
        if config.fit_steps or config.adapt:
            raise UserInputError("--fit_steps / --adapt need the images, not result files: use --source ckpt "
                                 "(or mindir / onnx for --fit_steps)")
        from src.inference.bin_io import read_results
        from src.inference.predictors import graph_decoder
        if not config.result_path:
            raise UserInputError("--source results needs --result_path (the runner's result folder)")
        input_dir = config.infer_input_path or os.path.join(os.path.dirname(os.path.abspath(config.result_path)),
                                                            "preprocess_Result")
        batches = read_results(config.result_path, input_dir, graph_decoder(config, smpl))
        return (batches, load_dataset_npz(test_file, need_keypoints=False),
                {"source": "results", "result_path": config.result_path}, None)
    if config.source == "ckpt" and model is None:
        model = load_model(config, smpl)
    fitter, adapter = build_fitter(config, smpl), build_adapter(config, smpl, model)
    source = build_eval_source(config, test_file,
                               J24_TO_COCOPLUS19 if smpl.has_cocoplus else J24_TO_LSP14)
    if adapter is not None:
        predictor = AdaptingPredictor(model, adapter)
    else:
        predictor = build_predictor(config, model, smpl)
        if fitter is not None:
            predictor = FittingPredictor(predictor, fitter)
    described = {"source": config.source, "refine_steps": config.fit_steps, "adapt_steps": config.adapt}
    described.update({"checkpoint": config.checkpoint_file_path} if config.source == "ckpt" else
                     {"model_file": config.model_file})
    return (predict_dataset(predictor, source, config.eval_batch_size, config.num_workers), source.dataset.data,
            described, predictor if fitter is not None or adapter is not None else None)


def evaluate_from_config(config, smpl, model=None):
    """Evaluate ``config.source`` on ``config.dataset``; ``model`` overrides the checkpoint (demo)."""
    from src.evaluation.protocols import get_protocol, protocol_file
    from src.evaluation.evaluate import run_evaluation
    protocol = get_protocol(config.dataset)
    test_file = protocol_file(protocol, config.data_path, config.eval_dataset)
    if protocol.get("sequences"):
        return _evaluate_sequences(config, smpl, protocol, test_file, model)
    batches, data, described, test_time = prediction_batches(config, smpl, test_file, model)
    summary = run_evaluation(protocol, batches, data, smpl, config.eval_joint_set,
                             build_gt_meshes(config, smpl, protocol, data), config.eval_pve_root)
    summary.update(described, test_file=test_file, synthetic=bool(smpl.synthetic))
    if test_time is not None:     # 2D fit of every evaluated image to the test file's keypoints, crop pixels
        summary[test_time.variant].update({k: float(np.mean(np.concatenate(v))) for k, v in test_time.errors.items()},
                                          keypoints="ground truth", steps=config.fit_steps or config.adapt)
    return summary


def _evaluate_sequences(config, smpl, protocol, test_file, model):
    """The sequence protocol (``src/evaluation/sequences.py``): the checkpoint's per-frame model."""
    from src.evaluation.sequences import evaluate_sequences
    from src.inference.loading import load_model
    if config.source != "ckpt" or config.fit_steps or config.adapt:
        raise UserInputError(f"--dataset {protocol['name']} evaluates a checkpoint (--source ckpt) without "
                             "--fit_steps / --adapt")
    if model is None:
        model = load_model(config, smpl)
    model.set_train(False)
    summary = evaluate_sequences(config, smpl, protocol, test_file, model, build_gt_meshes(config, smpl, protocol,
                                                                                        {}))
    summary.update(source="ckpt", checkpoint=config.checkpoint_file_path, test_file=test_file,
                   synthetic=bool(smpl.synthetic))
    return summary


ACC_KEYS = ("protocol", "joint_set", "num_samples", "mpjpe", "pa_mpjpe", "pck", "auc", "pve")


def write_acc_log(summary, path):
    """``acc.log``: one ``key: value`` line per headline metric (the model zoo's inference report)."""
    from model_utils.atomic_files import atomic_write
    lines = [f"{k}: {summary[k]:.2f}" if isinstance(summary[k], float) else f"{k}: {summary[k]}"
             for k in ACC_KEYS if k in summary]
    with atomic_write(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return lines


def read_acc_log(path):
    """acc.log -> {key: float or str}."""
    with open(path, encoding="utf-8") as handle:
        pairs = [line.split(": ", 1) for line in handle.read().splitlines() if ": " in line]
    out = {}
    for key, value in pairs:
        try:
            out[key] = float(value)
        except ValueError:
            out[key] = value
    return out


def breakdown_table(summary):
    """Markdown tables of the per-action / per-sequence breakdown ('' when there is none)."""
    lines = []
    for key, table in summary.get("breakdown", {}).items():
        metrics = [m for m in next(iter(table.values())) if m != "num_samples"]
        lines += [f"| {key} | " + " | ".join(metrics) + " | samples |", "|---" * (len(metrics) + 2) + "|"]
        for label, row in table.items():
            lines.append(f"| {label} | " + " | ".join(f"{row[m]:.1f}" if m not in ("pck", "auc") else
                                                      f"{row[m]:.3f}" for m in metrics) + f" | {row['num_samples']} |")
        lines.append("")
    return "\n".join(lines)
