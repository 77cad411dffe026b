"""Meta-HMR on the embedded default: meta-training and test-time adaptation against their baselines.

``python -m src.main_job.compare_meta --config_path src/main_job/demo_config.yaml [--KEY VALUE ...]``
(``bash scripts/run_compare_meta.sh``). One starting checkpoint (the demo's HMR training with the
6D head and ``regressor_iterations`` iterations) is trained on for the same number of steps twice
with Meta-HMR's objective and optimiser: once with the inner step (meta-training) and once without
(``inner_steps 0``, Meta-HMR's ``--no_inner``: the plain model). Both start from the same weights
and see the same batches; the auxiliary network is the starting checkpoint. Five rows are
evaluated on the synthetic test split: plain; plain + ``--fit_steps``; plain + ``--adapt``;
meta-trained; meta-trained + ``--adapt`` (test-time keypoints: the test file's 2D labels), with
the wall time per image of each evaluation. ``<output_path>/meta_vs_plain/summary.json`` holds
them; an interrupted comparison resumes (every training run resumes).
"""
import logging
import os
import time

from model_utils.entry import run_entry
from model_utils.logger import setup_logging

logger = logging.getLogger("compare_meta")

ROWS = (("plain", "plain", {}), ("plain + fit", "plain", {"fit_steps": 30}),
        ("plain + adapt", "plain", {"adapt": 14}), ("meta-trained", "meta", {}),
        ("meta-trained + adapt", "meta", {"adapt": 14}))
REPORTED = ("mpjpe", "pa_mpjpe", "pve")
CONTINUE_STEPS = 300
META_HMR_OUTER_LR = 1e-4      # Meta-HMR's outer_lr (Adam)
ERROR_KEYS = {"refined": "reprojection_after", "adapted": "keypoint_error_after"}   # 2D error after, crop pixels


def _row(summary, variant):
    """The reported numbers of one evaluation: the network's, or its refined / adapted variant's."""
    values = summary[variant] if variant else summary
    error = values.get(ERROR_KEYS[variant]) if variant else None       # the network's own: from its adapted row
    return dict({k: round(values[k], 2) for k in REPORTED}, keypoint_error_px=None if error is None else round(error, 2))


def compare(config, smpl, continue_steps, test_time_steps=None):
    """Train the base, plain and meta runs and evaluate the five rows; returns the summary written to
    ``<output_path>/meta_vs_plain/summary.json``. ``test_time_steps``: {"fit_steps": n, "adapt": n} in place
    of the rows' step counts (``ROWS``), or None."""
    from model_utils.atomic_files import write_json
    from src.builders import build_model
    from src.evaluation.runner import evaluate_from_config
    from src.checkpoints import load_model_weights
    from src.training.loop import train

    base = train(config.replace(pose_head="rot6d", run_name="meta_base"))
    continued = {"pose_head": "rot6d", "meta": True, "checkpoint_file_path": base["checkpoint"], "epochs": 1,
                 "steps_per_epoch": continue_steps, "lr_schedule": "constant", "warmup_steps": 0,
                 "encoder_lr": META_HMR_OUTER_LR, "aux_checkpoint": base["checkpoint"], "save_every": continue_steps}
    runs = {name: train(config.replace(run_name=f"meta_{name}", inner_steps=steps, **continued))
            for name, steps in (("plain", 0), ("meta", config.inner_steps))}
    rows = {}
    for label, run_name, extra in ROWS:
        extra = {key: (test_time_steps or {}).get(key, steps) for key, steps in extra.items()}
        run = config.replace(**dict(continued, checkpoint_file_path=runs[run_name]["checkpoint"], **extra))
        model = build_model(run, smpl)
        load_model_weights(run.checkpoint_file_path, model)
        tick = time.perf_counter()
        summary = evaluate_from_config(run, smpl, model)
        seconds = time.perf_counter() - tick
        variant = "refined" if run.fit_steps else "adapted" if run.adapt else None
        rows[label] = dict(_row(summary, variant), ms_per_image=round(1e3 * seconds / summary["num_samples"], 1),
                           num_samples=summary["num_samples"])
        if variant == "adapted":
            rows[label]["adapt_steps_taken"] = round(summary["adapted"]["steps_taken"], 2)
            rows[label.replace(" + adapt", "")]["keypoint_error_px"] = round(summary["adapted"]["keypoint_error_before"], 2)
        logger.info("%s: %s", label, rows[label])
    summary = {"synthetic": bool(smpl.synthetic), "base_checkpoint": base["checkpoint"], "base_steps": base["steps"],
               "continued_steps": continue_steps, "rows": rows,
               "meta_adapt_over_plain_adapt_mpjpe": round(rows["meta-trained + adapt"]["mpjpe"] /
                                                          rows["plain + adapt"]["mpjpe"], 4)}
    path = write_json(os.path.join(config.output_path, "meta_vs_plain", "summary.json"), summary)
    logger.info("summary: %s", path)
    return summary


def main(config):
    from src.builders import set_mindspore_context
    from src.main_job.run import prepare_embedded_default
    setup_logging(os.path.join(config.output_path, "meta_vs_plain"))
    set_mindspore_context(config)
    return compare(config, prepare_embedded_default(config), CONTINUE_STEPS)


if __name__ == "__main__":
    run_entry(main)
