"""HybrIK's body layer (``SMPL_layer.hybrik``, ``hybrik/models/layers/smpl/SMPL.py``): 29 joints, 23 twists
and the shape -> rotations by inverse kinematics (``HMR/smpl/hybrik_ik.py``), then SMPL's skinning.

The rest joints the IK needs are the shaped template's 24 SMPL joints and its five leaf vertices
(``HYBRIK_LEAF_VERTICES``), both linear in the betas: the layer adds the leaves to the SMPL layer's
joint template and joint blend directions once, at construction.
"""
import numpy as np
from mindspore import Tensor, nn, ops

from HMR.constants import H36M_PELVIS, HYBRIK_LEAF_VERTICES
from HMR.smpl.hybrik_ik import inverse_kinematics, inverse_kinematics_naive
from HMR.smpl.lbs import rest_joints


class HybrIKSMPL(nn.Cell):
    """``vertices, joints24, rotmats, joints_h36m = layer(joints29, twist, betas)``.

    Args:
        smpl: the project's :class:`HMR.smpl.SMPL` with the ``h36m`` regressor.
        naive: always the naive solver (HybrIK's ``naive=True``, e.g. for an SVD-free export of the
            original); otherwise naive in training and the inference solver in evaluation, as HybrIK.
    Inputs: joints29 (B, 29, 3) metres (any root position; only bones are used), twist (B, 23, 2)
        (cos, sin), betas (B, 10).
    Outputs, metres, placed as HybrIK's layer places them: vertices (B, 6890, 3) relative to the H36M pelvis
        regressed from them, joints24 (B, 24, 3) relative to the SMPL pelvis, local rotations
        (B, 24, 3, 3), the 17 H36M joints regressed from the vertices (B, 17, 3) relative to their pelvis.
    """

    def __init__(self, smpl, naive=False):
        super().__init__()
        self.smpl = smpl
        self.naive = naive
        num_betas = smpl.num_betas
        leaves = list(HYBRIK_LEAF_VERTICES)
        template, blend_dirs = smpl.template.asnumpy(), smpl.blend_dirs.asnumpy()
        leaf_template = template[:, 0, leaves].T                                     # (5, 3)
        leaf_dirs = blend_dirs[:, :num_betas, leaves].transpose(1, 2, 0).reshape(num_betas, -1)
        self.joint_template = Tensor(np.concatenate([smpl.joint_template.asnumpy(), leaf_template], 0))
        self.joint_dirs = Tensor(np.concatenate([smpl.joint_dirs.asnumpy(), leaf_dirs], 1))
        self.h36m = smpl.regressor("h36m")

    def template_joints(self, betas):
        """The shaped template's 29 joints (B, 29, 3)."""
        return rest_joints(betas, self.joint_template, self.joint_dirs)

    def posed(self, joints29, twist, betas, naive=False):
        """The IK's rotations skinned, not re-centred: vertices (B, 6890, 3), joints24 (B, 24, 3), local
        rotations (B, 24, 3, 3), H36M joints (B, 17, 3), in the SMPL layer's frame."""
        rest = self.template_joints(betas)
        if naive:
            rotmats = inverse_kinematics_naive(joints29, twist, rest)
        else:
            rotmats = inverse_kinematics(joints29, twist, rest)
        vertices, joints24 = self.smpl(betas, rotmats)
        return vertices, joints24, rotmats, ops.matmul(self.h36m, vertices)

    def construct(self, joints29, twist, betas):
        vertices, joints24, rotmats, h36m = self.posed(joints29, twist, betas, self.naive or self.training)
        pelvis = ops.stop_gradient(h36m[:, H36M_PELVIS:H36M_PELVIS + 1])
        return vertices - pelvis, joints24 - ops.stop_gradient(joints24[:, :1]), rotmats, h36m - pelvis
