"""Meta-HMR's training step in PyTorch (reference), after ``train/trainer_one_stage_hmr.py``.

The regressor has Meta-HMR's names (fc1, drop1, fc2, drop2, decpose, decshape, deccam, init_*);
its forward takes explicit parameters as Meta-HMR's MetaModule does (``params=``, here
``torch.func.functional_call``), ``gradient_update_parameters`` is torchmeta's (first order:
the gradient is detached; second order: ``create_graph``), and the losses are the trainer's:
``L1Loss`` on vertices, ``(conf * MSELoss(reduction='none')).mean()`` on 2D keypoints,
pelvis-aligned confidence-weighted MSE on 3D joints, ``MSELoss`` on rotation matrices and betas,
``mean(exp(-10 s)^2)``; the samples without SMPL / 3D labels are dropped from those terms.
The dropout masks are given (``keep`` tensors), so both implementations can use the same ones.
"""
from collections import OrderedDict

import torch
from torch import nn

from tests.reference.torch_spin import add_iterative_head, rot6d_to_rotmat


class MetaRegressor(nn.Module):
    """Meta-HMR's regressor on given features. forward(features, keep (I, 2, B, 1024) of {0, 2} or
    None, n_iter) -> rotmats (B, 24, 3, 3), betas (B, 10), cam (B, 3)."""

    def __init__(self, feature_dim, init_pose, init_shape, init_cam):
        super().__init__()
        add_iterative_head(self, feature_dim, init_pose, init_shape, init_cam)

    def forward(self, features, keep, n_iter):
        batch = features.shape[0]
        pose, shape, cam = self.init_pose.expand(batch, -1), self.init_shape.expand(batch, -1), \
            self.init_cam.expand(batch, -1)
        for i in range(n_iter):
            h = self.fc1(torch.cat([features, pose, shape, cam], 1))
            h = h * keep[i, 0] if keep is not None else h
            h = self.fc2(h)
            h = h * keep[i, 1] if keep is not None else h
            pose, shape, cam = pose + self.decpose(h), shape + self.decshape(h), cam + self.deccam(h)
        return rot6d_to_rotmat(pose).reshape(batch, 24, 3, 3), shape, cam


def gradient_update_parameters(loss, params, step_size, first_order):
    """torchmeta's update: p - step_size * dloss/dp for every (name, p) in ``params``."""
    grads = torch.autograd.grad(loss, list(params.values()), create_graph=not first_order)
    return OrderedDict((name, p - step_size * (g.detach() if first_order else g))
                       for (name, p), g in zip(params.items(), grads))


class MetaHMRLossReference:
    """The trainer's objective. body(rotmats, betas) -> (vertices, joints (B, K, 3))."""

    def __init__(self, body, shape_weight=0.5, keypoint_weight=5.0, pose_weight=1.0, betas_weight=0.001):
        self.body = body
        self.weights = (shape_weight, keypoint_weight, pose_weight, betas_weight)

    @staticmethod
    def _pelvis(joints):
        return joints - ((joints[:, 2] + joints[:, 3]) / 2)[:, None]

    def __call__(self, rotmats, betas, cam, keypoints, t_rotmats, t_betas, t_vertices, t_joints, t_conf, has_smpl,
                 has_3d):
        vertices, joints = self.body(rotmats, betas)
        projected = cam[:, None, :1] * (joints[:, :, :2] + cam[:, None, 1:])
        kp = (keypoints[:, :, 2:] * nn.functional.mse_loss(projected, keypoints[:, :, :2], reduction="none")).mean()
        s3, ss = has_3d == 1, has_smpl == 1
        count = t_joints.shape[1]
        j3d = (t_conf[s3] * nn.functional.mse_loss(self._pelvis(joints[s3][:, :count]), self._pelvis(t_joints[s3]),
                                                   reduction="none")).mean() if s3.any() else 0.0
        shape = nn.functional.l1_loss(vertices[ss], t_vertices[ss]) if ss.any() else 0.0
        pose = nn.functional.mse_loss(rotmats[ss], t_rotmats[ss]) if ss.any() else 0.0
        betas_term = nn.functional.mse_loss(betas[ss], t_betas[ss]) if ss.any() else 0.0
        camera = (torch.exp(-cam[:, 0] * 10) ** 2).mean()
        w_shape, w_kp, w_pose, w_betas = self.weights
        return w_shape * shape + w_kp * kp + w_kp * j3d + w_pose * pose + w_betas * betas_term + camera


def meta_step_gradients(head, features, keep, n_iter, loss, inner_lr, first_order, batch, aux_targets, outer_weight=60.0):
    """Meta-HMR's one inner step on the head's parameters, then the outer loss x outer_weight.

    ``batch``: dict of keypoints, gt_rotmats, betas, gt_vertices, joints (B, 14, 3), conf (B, 14, 1),
    has_smpl, has_3d; ``aux_targets``: (rotmats, betas, vertices, joints) of the auxiliary network;
    ``keep``: (2 I, 2, B, 1024), the first I iterations' for the inner forward.
    Returns (outer loss, {name: gradient of the head's parameter}).
    """
    params = OrderedDict(head.named_parameters())
    inner_keep, outer_keep = keep[:n_iter], keep[n_iter:]
    rotmats, betas, cam = torch.func.functional_call(head, params, (features, inner_keep, n_iter))
    a_rot, a_betas, a_vertices, a_joints = aux_targets
    inner = loss(rotmats, betas, cam, batch["keypoints"], a_rot, a_betas, a_vertices, a_joints,
                 torch.ones_like(a_joints[:, :, :1]), batch["has_smpl"], batch["has_3d"])
    adapted = gradient_update_parameters(inner, params, inner_lr, first_order)
    rotmats, betas, cam = torch.func.functional_call(head, adapted, (features, outer_keep, n_iter))
    outer = outer_weight * loss(rotmats, betas, cam, batch["keypoints"], batch["gt_rotmats"], batch["betas"],
                                batch["gt_vertices"], batch["joints"], batch["conf"], batch["has_smpl"],
                                batch["has_3d"])
    grads = torch.autograd.grad(outer, list(params.values()))
    return outer, dict(zip(params.keys(), grads))
