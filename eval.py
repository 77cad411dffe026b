"""Evaluate HMR on a benchmark protocol:
``python eval.py --dataset h36m-p1|h36m-p2|mpi-inf-3dhp|3dpw|synthetic [--source ckpt|mindir|onnx|results]``.

``--source ckpt --checkpoint_file_path CKPT`` (default), ``--source mindir|onnx --model_file FILE``
or ``--source results --result_path DIR`` (the C++ runner's files): one metric code path.
Writes ``<output_path>/eval/metrics.json`` (mpjpe, pa_mpjpe in mm, num_samples, protocol, ...; with
``--fit_steps N`` the network's numbers stay there and the fit's go under ``refined``),
``breakdown.md`` (per action / sequence) and the resolved ``config.yaml``.
"""
import logging
import os

from model_utils.entry import run_entry
from model_utils.logger import setup_logging

logger = logging.getLogger("eval")


def main(config):
    from src.builders import build_smpl, set_mindspore_context
    from src.evaluation.runner import breakdown_table, evaluate_from_config
    from model_utils.atomic_files import atomic_write, write_json
    out_dir = os.path.join(config.output_path, "eval")
    setup_logging(out_dir)
    set_mindspore_context(config)
    summary = evaluate_from_config(config, build_smpl(config))
    summary["config"] = config.save(os.path.join(out_dir, "config.yaml"))
    write_json(os.path.join(out_dir, "metrics.json"), summary)
    table = breakdown_table(summary)
    if table:
        with atomic_write(os.path.join(out_dir, "breakdown.md"), "w") as handle:
            handle.write(table)
        logger.info("breakdown:\n%s", table)
    extra = "".join(f", {k.upper()} {summary[k]:.3f}" for k in ("pck", "auc") if k in summary)
    extra += f", PVE {summary['pve']:.1f} mm" if "pve" in summary else ""
    logger.info("%s (%s joints, %s): MPJPE %.1f mm, PA-MPJPE %.1f mm%s on %d samples -> %s", summary["protocol"],
                summary["joint_set"], summary["source"], summary["mpjpe"], summary["pa_mpjpe"], extra,
                summary["num_samples"], os.path.join(out_dir, "metrics.json"))
    if "accel" in summary:
        for name in (None, "filtered", "refined"):
            row = summary if name is None else summary.get(name)
            if row is not None:
                logger.info("%s: MPJPE %.1f, PA-MPJPE %.1f, PVE %.1f mm, acceleration error %.2f mm/frame^2",
                            name or "per-frame", row["mpjpe"], row["pa_mpjpe"], row["pve"], row["accel"])
    elif "refined" in summary:
        refined = summary["refined"]
        logger.info("refined (%d steps on the %s 2D keypoints): MPJPE %.1f mm, PA-MPJPE %.1f mm; reprojection "
                    "%.2f -> %.2f px", refined["steps"], refined["keypoints"], refined["mpjpe"], refined["pa_mpjpe"],
                    refined["reprojection_before"], refined["reprojection_after"])
    return summary


if __name__ == "__main__":
    run_entry(main)
