"""HMR's adversarial prior on SMPL parameters (LSGAN), as in the TF reference.

Input: rotation matrices of the 23 non-root joints and the 10 betas. Outputs 25 scores per
sample: 23 per-joint scores, one for the full pose and one for the shape.
"""
import numpy as np
from mindspore import Parameter, nn, ops
from mindspore.common.initializer import Uniform, initializer

from HMR.constants import NUM_BETAS, NUM_SMPL_JOINTS

NUM_BODY_JOINTS = NUM_SMPL_JOINTS - 1     # the root is not judged
JOINT_EMBED = 32
FULL_POSE_HIDDEN = 1024


class Discriminator(nn.Cell):
    """Input: rotmats (B, 24, 3, 3) (the root is dropped) and betas (B, 10).
    Output: (B, 25) scores ``[23 per-joint | full pose | shape]``."""

    def __init__(self):
        super().__init__()
        # the shared 1x1 convolutions over joints, written as dense layers on (B, 23, 9)
        self.joint_fc1 = nn.Dense(9, JOINT_EMBED)
        self.joint_fc2 = nn.Dense(JOINT_EMBED, JOINT_EMBED)
        # 23 separate linear heads 32 -> 1, stored as one (23, 32) weight (nn.Dense's default init)
        bound = 1.0 / np.sqrt(JOINT_EMBED)
        self.joint_head_weight = Parameter(initializer(Uniform(bound), (NUM_BODY_JOINTS, JOINT_EMBED)),
                                           name="joint_head_weight")
        self.joint_head_bias = Parameter(initializer(Uniform(bound), (NUM_BODY_JOINTS,)), name="joint_head_bias")
        self.pose_fc1 = nn.Dense(NUM_BODY_JOINTS * JOINT_EMBED, FULL_POSE_HIDDEN)
        self.pose_fc2 = nn.Dense(FULL_POSE_HIDDEN, FULL_POSE_HIDDEN)
        self.pose_out = nn.Dense(FULL_POSE_HIDDEN, 1)
        self.shape_fc1 = nn.Dense(NUM_BETAS, 10)
        self.shape_fc2 = nn.Dense(10, 5)
        self.shape_out = nn.Dense(5, 1)
        self.relu = nn.ReLU()

    def construct(self, rotmats, betas):
        joints = rotmats[:, 1:].reshape(-1, NUM_BODY_JOINTS, 9)
        embed = self.relu(self.joint_fc2(self.relu(self.joint_fc1(joints))))            # (B, 23, 32)
        per_joint = ops.sum(embed * self.joint_head_weight, -1) + self.joint_head_bias  # (B, 23)
        full = self.relu(self.pose_fc1(embed.reshape(-1, NUM_BODY_JOINTS * JOINT_EMBED)))
        full = self.pose_out(self.relu(self.pose_fc2(full)))                            # (B, 1)
        shape = self.shape_out(self.relu(self.shape_fc2(self.relu(self.shape_fc1(betas)))))
        return ops.concat([per_joint, full, shape], 1)
