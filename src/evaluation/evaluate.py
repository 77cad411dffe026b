"""One evaluation loop for every prediction source (see ``src/inference/predictors.py``).

Predictions arrive as batches ``(indices, vertices, joints, valid)``; ground truth comes
from the test file (``S`` labels, or meshes of its SMPL parameters for 3DPW and the
embedded default); ``src/evaluation/protocols.py`` turns both into per-sample metrics, which
``src.evaluation.metrics.Evaluator`` averages overall and per action / sequence.
"""
import logging

import numpy as np

from src.evaluation.protocols import LABEL_SLOTS, JointSet, batch_metrics, choose_joint_set, group_labels
from src.evaluation.metrics import Evaluator

logger = logging.getLogger(__name__)

GENDERS = {"m": "male", "male": "male", "f": "female", "female": "female"}


class GroundTruthMeshes:
    """Meshes of ground-truth SMPL parameters: gendered layers when given, else the neutral one."""

    def __init__(self, neutral, gendered=None):
        self.layers = {"neutral": neutral, **(gendered or {})}

    def __call__(self, pose, betas, genders=None):
        """pose (B, 72), betas (B, 10), genders (B,) or None -> vertices (B, V, 3), joints (B, 24, 3)."""
        keys = np.array(["neutral"] * len(pose) if genders is None else
                        [GENDERS.get(str(g).lower(), "neutral") for g in genders])
        vertices = np.zeros((len(pose), self.layers["neutral"].num_vertices, 3), np.float32)
        joints = np.zeros((len(pose), 24, 3), np.float32)
        for key in set(keys.tolist()):
            rows = keys == key
            vertices[rows], joints[rows] = self.layers.get(key, self.layers["neutral"]).run_numpy(betas[rows],
                                                                                                 pose[rows])
        return vertices, joints


def run_evaluation(protocol, predictions, data, smpl, joint_set_name="auto", gt_meshes=None, pve_root="pelvis"):
    """Evaluate prediction batches against a test file's arrays.

    Args:
        protocol: a dict from ``src.evaluation.protocols.get_protocol``.
        predictions: iterable of (indices, vertices (B,V,3), joints (B,K,3), valid (B,)), metres,
            optionally + ``{variant: (vertices, joints)}``: other predictions of the batch
            (``refined``, ...), each scored on its own.
        data: the test file's arrays (``schema.load_dataset_npz``).
        smpl: the SMPL layer (its regressors define the joint sets).
        gt_meshes: GroundTruthMeshes for protocols with SMPL ground truth (default: neutral).
        pve_root: ``pelvis`` (PVE on meshes centred as the joints are) or ``smpl_root`` (on meshes centred on SMPL's
            root regressed from each: 3DCrowdNet).
    Returns:
        dict: mean metrics (mm; PCK/AUC as fractions), ``num_samples``, ``skipped``,
        ``joint_set`` and ``breakdown`` tables; per variant a dict of its mean metrics.
    """
    name = choose_joint_set(protocol, joint_set_name, smpl.regressor_names,
                            data["S"] if protocol["ground_truth"] == "joints" else None)
    joint_set = JointSet(name, {n: smpl.regressor(n).asnumpy().astype(np.float64) for n in smpl.regressor_names})
    meshes = gt_meshes or GroundTruthMeshes(smpl)
    root_row = smpl.root_regressor if pve_root == "smpl_root" else None
    has_truth = data["has_smpl"] > 0 if protocol["ground_truth"] == "smpl" else \
        data["S"][:, list(LABEL_SLOTS[name]), 3].sum(1) > 0
    evaluator, skipped, variant_evaluators = Evaluator(), 0, {}
    for batch in predictions:
        indices, vertices, joints, valid = batch[:4]
        variants = batch[4] if len(batch) > 4 else {}
        indices = np.asarray(indices, np.int64)
        keep = (np.asarray(valid) > 0) & has_truth[indices]
        skipped += int((~keep).sum())
        if not keep.any():
            continue
        rows = indices[keep]
        if protocol["ground_truth"] == "smpl":
            gt_vertices, gt_joints = meshes(data["pose"][rows], data["shape"][rows],
                                            data["gender"][rows] if "gender" in data else None)
            truth = {"vertices": gt_vertices.astype(np.float64), "smpl_joints": gt_joints}
        else:
            truth = {"S": data["S"][rows].astype(np.float64)}
        labels = group_labels(protocol, data, rows)
        groups = {protocol["group"]: labels} if labels is not None else None
        for variant, (v, j) in [(None, (vertices, joints))] + list(variants.items()):
            prediction = {"vertices": v[keep].astype(np.float64), "joints": j[keep].astype(np.float64)}
            target = evaluator if variant is None else variant_evaluators.setdefault(variant, Evaluator())
            target.add(batch_metrics(protocol, joint_set, prediction, truth, root_row), groups)
    summary = evaluator.summary()
    if summary["num_samples"] == 0:
        raise ValueError("no sample with a readable image and ground truth was evaluated")
    for variant, variant_evaluator in variant_evaluators.items():
        summary[variant] = {k: v for k, v in variant_evaluator.summary().items() if k != "breakdown"}
    summary.update(skipped=skipped, joint_set=name, protocol=protocol["name"])
    if protocol["ground_truth"] == "joints":
        summary["label_slots"] = list(LABEL_SLOTS[name])          # the J24 slots compared (slot 18: H36M head)
    return summary
