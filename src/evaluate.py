"""Evaluation on a dataset in the uniform schema: 3D joint errors in millimetres.

HMR's protocol for models with the cocoplus regressor: the 14 LSP joints, both sides
aligned at the mid-hip pelvis; MPJPE, and PA-MPJPE after per-sample Procrustes.
"""
import logging

import numpy as np

from HMR.constants import LSP14_HIPS
from src.metrics import align_by_pelvis, mpjpe, pa_mpjpe

logger = logging.getLogger(__name__)

METRES_TO_MM = 1000.0


def predict_joints(model, source, batch_size, num_workers=1):
    """Run ``model`` over an EvalSource. Returns (pred (N,14,3), gt (N,14,4), valid (N,)) in metres."""
    from tqdm import tqdm

    from src.datasets.pipeline import create_eval_dataset
    model.set_train(False)
    preds, gts, valid = [], [], []
    dataset = create_eval_dataset(source, batch_size, num_workers)
    for batch in tqdm(dataset.create_tuple_iterator(), total=dataset.get_dataset_size(), desc="eval", unit="batch",
                      disable=len(source) < 4 * batch_size):
        outputs = model(batch[0])
        preds.append(outputs[5].asnumpy()[:, :14])
        gts.append(batch[1].asnumpy())
        valid.append(batch[6].asnumpy())
    return np.concatenate(preds), np.concatenate(gts), np.concatenate(valid)


def joint_errors(pred, gt, valid):
    """Per-sample MPJPE and PA-MPJPE (mm) of the samples with a readable image and 3D ground truth."""
    keep = (valid > 0) & (gt[:, :, 3].sum(1) > 0)
    pred_aligned = align_by_pelvis(pred[keep], LSP14_HIPS)
    gt_aligned = align_by_pelvis(gt[keep, :, :3], LSP14_HIPS)
    return {"mpjpe": mpjpe(pred_aligned, gt_aligned) * METRES_TO_MM,
            "pa_mpjpe": pa_mpjpe(pred_aligned, gt_aligned) * METRES_TO_MM, "skipped": int((~keep).sum())}


def evaluate(model, source, batch_size, num_workers=1):
    """Mean metrics over a dataset: ``{"mpjpe", "pa_mpjpe", "num_samples", "skipped"}`` (mm)."""
    errors = joint_errors(*predict_joints(model, source, batch_size, num_workers))
    if len(errors["mpjpe"]) == 0:
        raise ValueError(f"{source.dataset.path}: no sample with a readable image and 3D ground truth")
    return {"mpjpe": float(errors["mpjpe"].mean()), "pa_mpjpe": float(errors["pa_mpjpe"].mean()),
            "num_samples": int(len(errors["mpjpe"])), "skipped": errors["skipped"]}
