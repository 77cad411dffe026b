"""Evaluation protocols: which file, which joints, which ground truth, which metrics.

=============== ============================== =========== ============ ========================
protocol        default file (in data_path,     joints      ground truth extra metrics / groups
                ``npz/`` or ``dataset_extras/``)
=============== ============================== =========== ============ ========================
h36m-p1         h36m_valid_protocol1.npz       14          S (3D)       per action
h36m-p2         h36m_valid_protocol2.npz       14          S (3D)       per action
mpi-inf-3dhp    mpi_inf_3dhp_test.npz          17          S (3D)       PCK@150mm, AUC; per seq.
3dpw            3dpw_test.npz                  14          SMPL mesh    PVE; per sequence
synthetic       synthetic/synthetic_eval.npz   14          SMPL mesh    PVE
synthetic-seq   synthetic/synthetic_seq_eval   14          SMPL mesh    PVE, acceleration error;
                .npz                                                    filter / refiner rows
=============== ============================== =========== ============ ========================

Joint sets (``eval_joint_set``):

* ``lsp14`` -- HMR: the model's 14 LSP joints (cocoplus regressor) against J24 slots 0-13
  (head top in slot 13), pelvis = mid-hip.
* ``h36m14`` -- SPIN: 14 joints regressed from the mesh by ``J_regressor_h36m``
  (``H36M_TO_J14``) against ``J24_TO_J14`` = slots 0-12 + 18 (the H36M head; SPIN's files
  never fill slot 13), pelvis = that regressor's pelvis when the ground truth has one
  (J24 slot 14), else mid-hip on both sides.
* ``h36m17`` -- the same regressor's 17 joints (``H36M_TO_J17``) against ``J24_TO_J17`` =
  slots 0-12, 18, 14, 16, 17; MPI-INF-3DHP.

``auto`` decides by what the labels hold: the H36M head (slot 18) -> ``h36m14``/``h36m17``
(needs ``J_regressor_h36m``); the LSP head top (slot 13) and no slot 18 -> ``lsp14`` (files
converted from LSP-14 labels, e.g. the earlier port's ``annot.h5``). Protocols with SMPL
ground truth take SPIN's set when the regressor is there.

Everything here is numpy on predictions already on the host, so every backend
(checkpoint, MINDIR, ONNX, the C++ runner's result files) shares one metric path.
"""
import os
import re

import numpy as np

from HMR.constants import (H36M_PELVIS, H36M_TO_J14, H36M_TO_J17, J24_H36M_HEAD, J24_LSP_HEAD_TOP, J24_PELVIS,
                           J24_TO_J14, J24_TO_J17, J24_TO_LSP14, LSP14_HIPS, SMPL_TO_LSP14)
from model_utils.errors import UserInputError
from src.data.converters.h36m import ACTIONS
from src.data.test_sets import PROTOCOLS, get_protocol, protocol_file  # noqa: F401 (this module's API)
from src.evaluation.metrics import auc, mpjpe, pa_mpjpe, pck, pve

METRES_TO_MM = 1000.0
JOINT_SETS = ("lsp14", "h36m14", "h36m17")


def label_heads(S):
    """Which head joints J24 labels (N, 24, 4) hold: (LSP head top in slot 13, H36M head in slot 18)."""
    return bool((S[:, J24_LSP_HEAD_TOP, 3] > 0).any()), bool((S[:, J24_H36M_HEAD, 3] > 0).any())


def choose_joint_set(protocol, requested, regressor_names, labels=None):
    """The joint set to use: ``requested``, or for ``auto`` the one the labels and the model support.

    Args:
        labels: the test file's J24 ``S`` (N, 24, 4) for protocols with joint ground truth.
    """
    h36m = "h36m17" if protocol["joints"] == 17 else "h36m14"
    head_top, h36m_head = label_heads(labels) if labels is not None else (True, True)
    if requested != "auto":
        if requested not in JOINT_SETS:
            raise UserInputError(f"--eval_joint_set must be auto or one of {JOINT_SETS}, got {requested!r}")
        if requested.startswith("h36m") and "h36m" not in regressor_names:
            raise UserInputError(f"--eval_joint_set {requested} needs J_regressor_h36m.npy (--h36m_regressor_path)")
        if requested.startswith("h36m") and not h36m_head:
            raise UserInputError(f"--eval_joint_set {requested}: the test labels have no H36M head (J24 slot 18): "
                                 "use lsp14")
        if requested == "lsp14" and not head_top:
            raise UserInputError("--eval_joint_set lsp14: the test labels have no LSP head top (J24 slot 13; SPIN's "
                                 "H36M/3DHP files keep the head in slot 18): use h36m14/h36m17")
        return requested
    if "h36m" not in regressor_names:
        if h36m_head and not head_top:
            raise UserInputError("the test labels hold the H36M head (J24 slot 18), not the LSP head top: "
                                 "evaluating them needs J_regressor_h36m.npy (--h36m_regressor_path)")
        return "lsp14"
    return "lsp14" if head_top and not h36m_head else h36m


LABEL_SLOTS = {"lsp14": J24_TO_LSP14, "h36m14": J24_TO_J14, "h36m17": J24_TO_J17}


def group_labels(protocol, data, indices):
    """(B,) labels of the protocol's breakdown (action or sequence), or None."""
    key = protocol["group"]
    if key is None:
        return None
    if key in data:
        return np.asarray(data[key])[indices].astype(str)
    names = np.asarray(data["imgname"])[indices].astype(str)
    if key == "action":
        return np.array([_find_action(n) for n in names])
    return np.array([_sequence(n) for n in names])


def _find_action(name):
    for action in sorted(ACTIONS, key=len, reverse=True):
        if re.search(action, os.path.basename(name), re.IGNORECASE):
            return action
    return "unknown"


def _sequence(name):
    """3DHP 'TS3', 3DPW's folder after imageFiles/, else the image's folder."""
    match = re.search(r"(?<![A-Za-z0-9])TS\d+", name)
    if match:
        return match.group(0)
    parts = name.replace("\\", "/").split("/")
    if "imageFiles" in parts and parts.index("imageFiles") + 1 < len(parts) - 1:
        return parts[parts.index("imageFiles") + 1]
    return parts[-2] if len(parts) > 1 else "all"


class JointSet:
    """Evaluation joints and pelvis from meshes (prediction or ground truth) or from J24 labels.

    Args:
        name: ``lsp14``, ``h36m14`` or ``h36m17``.
        regressors: ``{"h36m": (17, V), "cocoplus": (19, V)}`` numpy arrays (what the model has).
    """

    def __init__(self, name, regressors):
        self.name = name
        self.h36m = regressors.get("h36m")
        self.cocoplus = regressors.get("cocoplus")

    def from_mesh(self, vertices, joints):
        """vertices (B, V, 3), the model's joints (B, K, 3) -> (joints (B, J, 3), pelvis (B, 1, 3), mid-hip)."""
        if self.name == "lsp14":
            lsp = joints[:, :14] if joints is not None else self.lsp_from_mesh(vertices)
            mid_hip = lsp[:, list(LSP14_HIPS)].mean(1, keepdims=True)
            return lsp, mid_hip, mid_hip
        h36m = np.einsum("kv,bvc->bkc", self.h36m, vertices)
        order = H36M_TO_J17 if self.name == "h36m17" else H36M_TO_J14
        out = h36m[:, list(order)]
        return out, h36m[:, H36M_PELVIS:H36M_PELVIS + 1], out[:, list(LSP14_HIPS)].mean(1, keepdims=True)

    def lsp_from_mesh(self, vertices, smpl_joints=None):
        """LSP 14 joints of meshes: the cocoplus regressor, else SMPL joints (B, 24, 3)."""
        if self.cocoplus is not None:
            return np.einsum("kv,bvc->bkc", self.cocoplus[:14], vertices)
        return smpl_joints[:, list(SMPL_TO_LSP14)]

    def from_labels(self, S):
        """J24 labels S (B, 24, 4) -> (joints (B, J, 3), mask (B, J), pelvis (B, 1, 3) or NaN, mid-hip)."""
        order = LABEL_SLOTS[self.name]
        joints, mask = S[:, list(order), :3], S[:, list(order), 3] > 0
        mid_hip = S[:, list(LSP14_HIPS), :3].mean(1, keepdims=True)
        pelvis = np.where(S[:, J24_PELVIS:J24_PELVIS + 1, 3:4] > 0, S[:, J24_PELVIS:J24_PELVIS + 1, :3], np.nan)
        return joints, mask, pelvis, mid_hip


def batch_metrics(protocol, joint_set, prediction, truth, pve_root=None):
    """Per-sample metrics (mm / fractions) of one batch.

    Args:
        prediction: dict ``vertices`` (B, V, 3), ``joints`` (B, K, 3) in metres.
        truth: dict with either ``S`` (B, 24, 4) or ``vertices`` (B, V, 3) + ``smpl_joints``
            (B, 24, 3) (meshes of the ground-truth SMPL parameters; the protocols with ``pve``).
        pve_root: (V,) a regressor row whose point on each mesh centres that mesh for PVE (3DCrowdNet: SMPL's
            root, ``SMPL.root_regressor``), or None: the joints' root (the pelvis they are aligned by).
    Returns:
        dict of (B,) arrays: mpjpe, pa_mpjpe, and pck/auc or pve when the protocol has them.
    """
    pred, pred_pelvis, pred_mid = joint_set.from_mesh(prediction["vertices"], prediction["joints"])
    if protocol["ground_truth"] == "smpl":
        gt_vertices = truth["vertices"]
        if joint_set.name == "lsp14":
            gt = joint_set.lsp_from_mesh(gt_vertices, truth.get("smpl_joints"))
            gt_pelvis = gt[:, list(LSP14_HIPS)].mean(1, keepdims=True)
        else:
            gt, gt_pelvis, _ = joint_set.from_mesh(gt_vertices, None)
        mask = np.ones(gt.shape[:2], bool)
        use_pelvis = np.full((len(gt), 1, 1), joint_set.name != "lsp14")
    else:
        gt, mask, gt_pelvis, gt_mid = joint_set.from_labels(truth["S"])
        # the regressor's pelvis only when the labels have one; mid-hip on both sides otherwise
        use_pelvis = ~np.isnan(gt_pelvis[:, :, :1]) & (joint_set.name != "lsp14")
        gt_pelvis = np.where(use_pelvis, gt_pelvis, gt_mid)
    pred_root = np.where(use_pelvis, pred_pelvis, pred_mid)
    pred_aligned = (pred - pred_root) * METRES_TO_MM
    gt_aligned = (gt - gt_pelvis) * METRES_TO_MM
    out = {"mpjpe": mpjpe(pred_aligned, gt_aligned, mask), "pa_mpjpe": pa_mpjpe(pred_aligned, gt_aligned, mask)}
    if protocol.get("pck"):
        out["pck"] = pck(pred_aligned, gt_aligned, mask=mask)
        out["auc"] = auc(pred_aligned, gt_aligned, mask=mask)
    if protocol.get("pve"):
        pred_centre, gt_centre = pred_root, gt_pelvis
        if pve_root is not None:
            pred_centre = np.einsum("v,bvc->bc", pve_root, prediction["vertices"])[:, None]
            gt_centre = np.einsum("v,bvc->bc", pve_root, gt_vertices)[:, None]
        out["pve"] = pve((prediction["vertices"] - pred_centre) * METRES_TO_MM,
                         (gt_vertices - gt_centre) * METRES_TO_MM)
    return out
