"""3DCrowdNet's training step (``main/model.py`` ``Model.forward(mode='train')``, ``common/nets/loss.py``): seven
L1 terms, each a mean over all its elements with the masked ones zero (``CoordLoss``, ``ParamLoss``), weights 1,
summed; one optimiser step over every trainable parameter (VPoser's decoder frozen).

The targets come from this project's training schema, in the graph per batch (``CrowdNetTargets``):

* ``body_joint_img`` (x 1/8): PositionNet's 15 joints (64-grid) against the 2D labels' (x, y) where visible and
  inside the grid; z masked (the original compares z only for 3D datasets, from their joints' root-relative depth;
  this schema's 3D joints have no pelvis to take depth from);
* ``smpl_joint_img`` (x 1/8): against the fitted SMPL's joints - z here (root-relative depth, voxelised over the
  2 m box as the original); the fit's projected (x, y) would need the fit's camera, which the schema does not
  hold, so x and y are masked (the labels supervise them in the first term);
* ``smpl_pose`` (axis-angle, ankles, feet, wrists and hands masked) and ``smpl_shape``, where the sample has SMPL;
* ``body_joint_proj`` (x 1/8): the 30 joints projected by the predicted camera (64-grid) against the labelled ones
  of the model's keypoint set (by name), where visible;
* ``body_joint_cam``: the predicted 3D joints against the dataset's (LSP 14 by name), both centred on the mid-hip
  (the schema's 3D joints have no pelvis), where the sample has 3D;
* ``smpl_joint_cam``: against the fitted SMPL's 30 joints, both relative to the pelvis, where the sample has SMPL.
"""
import mindspore as ms
import numpy as np
from mindspore import Tensor, nn, ops

from HMR.constants import (CROWD15_FROM_30, CROWD30_NAMES, CROWD_BBOX_3D_SIZE, CROWD_HEATMAP_SIZE,
                           CROWD_UNSUPERVISED_POSE_JOINTS, J24_NAMES, LSP14_NAMES, NUM_SMPL_JOINTS)
from HMR.crowdnet import JOINT_CAM, JOINT_IMG, JOINT_PROJ, SMPL_POSE, SMPL_SHAPE
from HMR.geometry import batch_rodrigues
from src.training.loss_scale import LossScaler, ScaledObjective, apply_if_finite

CROWDNET_LOSS_NAMES = ("total", "body_joint_img", "smpl_joint_img", "smpl_pose", "smpl_shape", "body_joint_proj",
                       "body_joint_cam", "smpl_joint_cam")
COORD_SCALE = 1.0 / 8.0        # the 64-grid terms
MID_HIP = ("left_hip", "right_hip")


def name_selection(from_names, to_names):
    """(len(to_names), len(from_names)) 0/1: row t picks the entry of ``from_names`` named ``to_names[t]`` (a zero
    row where there is none)."""
    selection = np.zeros((len(to_names), len(from_names)), np.float32)
    for t, name in enumerate(to_names):
        if name in from_names:
            selection[t, from_names.index(name)] = 1.0
    return selection


def pose_mask():
    """(72,) 1, 0 for the joints 3DCrowdNet's fits do not supervise."""
    mask = np.ones((NUM_SMPL_JOINTS, 3), np.float32)
    mask[list(CROWD_UNSUPERVISED_POSE_JOINTS)] = 0.0
    return mask.reshape(-1)


class CrowdNetTargets(nn.Cell):
    """A batch's targets from the labels and the body model.

    Inputs: keypoints (B, K, 3) the model's keypoint set in [-1, 1] + visibility; joints3d (B, 14, 4) LSP 14 (m) +
    confidence; pose (B, 72); betas (B, 10); has_smpl, has_3d, valid (B,).
    Outputs: labelled 2D of the 30 joints in the 64-grid (B, 30, 2) and their weight (B, 30, 1); the fit's 30 joints
    relative to its pelvis (B, 30, 3) m; the fit's 15 graph joints' depth in the 64-grid (B, 15, 1) and its weight;
    the dataset's 3D joints on the 30 set, mid-hip centred (B, 30, 3), and their weight (B, 30, 1).
    """

    def __init__(self, model, keypoint_names):
        super().__init__(auto_prefix=False)
        self.model = model
        self.from_keypoints = Tensor(name_selection(keypoint_names, CROWD30_NAMES))
        self.from_lsp = Tensor(name_selection(LSP14_NAMES, CROWD30_NAMES))
        self.lsp_mid_hip = Tensor(name_selection(LSP14_NAMES, MID_HIP).mean(0, keepdims=True))
        self.graph = list(CROWD15_FROM_30)

    def construct(self, keypoints, joints3d, pose, betas, has_smpl, has_3d, valid):
        grid = (keypoints[:, :, :2] + 1.0) * (0.5 * CROWD_HEATMAP_SIZE)
        inside = ops.cast(ops.logical_and(grid >= 0, grid < CROWD_HEATMAP_SIZE), ms.float32)
        visible = keypoints[:, :, 2:] * inside[:, :, :1] * inside[:, :, 1:] * valid.reshape(-1, 1, 1)
        label_2d = ops.matmul(self.from_keypoints, grid)
        label_2d_weight = ops.matmul(self.from_keypoints, visible)
        rotmats = batch_rodrigues(pose.reshape(-1, 3)).reshape(-1, NUM_SMPL_JOINTS, 3, 3)
        vertices, _ = self.model.smpl(betas, rotmats)
        fit = ops.matmul(self.model.regressor30, vertices)
        fit = fit - fit[:, :1]
        fit_weight = (has_smpl * valid).reshape(-1, 1, 1)
        depth = ((fit[:, :, 2:] / (CROWD_BBOX_3D_SIZE / 2.0) + 1.0) * 0.5 * CROWD_HEATMAP_SIZE)[:, self.graph]
        depth_inside = ops.cast(ops.logical_and(depth >= 0, depth < CROWD_HEATMAP_SIZE), ms.float32)
        lsp = joints3d[:, :, :3] - ops.matmul(self.lsp_mid_hip, joints3d[:, :, :3])
        label_3d = ops.matmul(self.from_lsp, lsp)
        label_3d_weight = ops.matmul(self.from_lsp, joints3d[:, :, 3:]) * (has_3d * valid).reshape(-1, 1, 1)
        return (label_2d, label_2d_weight, ops.stop_gradient(fit), fit_weight, ops.stop_gradient(depth),
                depth_inside * fit_weight, label_3d, label_3d_weight)


class CrowdNetObjective(nn.Cell):
    """The loss of one batch. Inputs: the training columns up to ``valid``, the noise (B, R), then joints and
    joints_mask. Returns the ``CROWDNET_LOSS_NAMES``."""

    def __init__(self, model, keypoint_names):
        super().__init__(auto_prefix=False)
        self.model = model
        self.targets = CrowdNetTargets(model, keypoint_names)
        self.pose_mask = Tensor(pose_mask())
        self.mid_hip = Tensor(name_selection(CROWD30_NAMES, MID_HIP).mean(0, keepdims=True))
        self.graph = list(CROWD15_FROM_30)

    def construct(self, images, keypoints, joints3d, pose, betas, has_smpl, has_3d, valid, noise, joints, joints_mask):
        out = self.model.predict(images, joints, joints_mask, noise)
        (label_2d, label_2d_weight, fit, fit_weight, depth, depth_weight, label_3d,
         label_3d_weight) = self.targets(keypoints, joints3d, pose, betas, has_smpl, has_3d, valid)
        joint_img = out[JOINT_IMG]
        graph_2d, graph_2d_weight = label_2d[:, self.graph], label_2d_weight[:, self.graph]
        xy_error = ops.abs(joint_img[:, :, :2] - graph_2d) * graph_2d_weight
        body_img = COORD_SCALE * ops.mean(ops.concat([xy_error, ops.zeros_like(xy_error[:, :, :1])], -1))
        z_error = ops.abs(joint_img[:, :, 2:] - depth) * depth_weight
        smpl_img = COORD_SCALE * ops.mean(ops.concat([ops.zeros_like(xy_error), z_error], -1))
        smpl_weight = (has_smpl * valid).reshape(-1, 1)
        pose_term = ops.mean(ops.abs(out[SMPL_POSE] - pose) * self.pose_mask * smpl_weight)
        shape_term = ops.mean(ops.abs(out[SMPL_SHAPE] - betas) * smpl_weight)
        proj = COORD_SCALE * ops.mean(ops.abs(out[JOINT_PROJ] - label_2d) * label_2d_weight)
        joint_cam = out[JOINT_CAM]
        centred = joint_cam - ops.matmul(self.mid_hip, joint_cam)
        body_cam = ops.mean(ops.abs(centred - label_3d) * label_3d_weight)
        smpl_cam = ops.mean(ops.abs(joint_cam - fit) * fit_weight)
        total = body_img + smpl_img + pose_term + shape_term + proj + body_cam + smpl_cam
        return total, body_img, smpl_img, pose_term, shape_term, proj, body_cam, smpl_cam


class CrowdNetTrainStep(nn.Cell):
    """One 3DCrowdNet step. Inputs as ``HMRTrainStep`` (the mocap columns unused), noise (1, 1, B, R), then joints
    and joints_mask. Output: (10,) the losses in ``CROWDNET_LOSS_NAMES`` order then ``STEP_STAT_NAMES``."""

    loss_names = CROWDNET_LOSS_NAMES

    def __init__(self, objective, optimizer, reducer=None, scaler=None):
        super().__init__(auto_prefix=False)
        self.objective, self.optimizer = objective, optimizer
        self.grad = ms.value_and_grad(ScaledObjective(objective), None, optimizer.parameters, has_aux=True)
        self.reducer = reducer if reducer is not None else ops.identity
        self.scaler = scaler if scaler is not None else LossScaler()

    def construct(self, images, keypoints, joints3d, pose, betas, has_smpl, has_3d, valid, mocap_pose, mocap_betas,
                  noise, joints, joints_mask):
        scale = self.scaler.scale_value * 1.0
        outputs, grads = self.grad(images, keypoints, joints3d, pose, betas, has_smpl, has_3d, valid, noise[0, 0],
                                   joints, joints_mask, scale)
        total, overflow = apply_if_finite(self.scaler, self.optimizer, self.reducer(grads), outputs[1])
        return ops.stack((total,) + outputs[2:] + (scale, overflow))


def keypoint_names(model):
    """The names of the model's 2D keypoint set (``src.builders.keypoint_indices``: cocoplus 19 or LSP 14)."""
    from src.builders import keypoint_indices
    return tuple(J24_NAMES[i] for i in keypoint_indices(model))
