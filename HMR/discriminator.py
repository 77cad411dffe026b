"""HMR's adversarial prior on SMPL parameters (LSGAN), as in the TF reference.

Input: rotation matrices of the 23 non-root joints and the 10 betas. Outputs 25 scores per
sample: 23 per-joint scores, one for the full pose and one for the shape, in the order of the
implementation a model family follows (``SCORE_ORDERS``): the TF reference concatenates
``[per joint | full pose | shape]``, 4D-Humans (HMR 2.0, ``hmr2/models/discriminator.py``)
``[per joint | shape | full pose]``. The losses sum over the scores; the order matters to anyone
comparing scores column by column with the original.
"""
import numpy as np
from mindspore import Parameter, nn, ops
from mindspore.common.initializer import Uniform, initializer

from HMR.constants import NUM_BETAS, NUM_SMPL_JOINTS

NUM_BODY_JOINTS = NUM_SMPL_JOINTS - 1     # the root is not judged
JOINT_EMBED = 32
FULL_POSE_HIDDEN = 1024
SCORE_ORDERS = {"tf_hmr": ("joints", "pose", "shape"), "4d_humans": ("joints", "shape", "pose")}


class Discriminator(nn.Cell):
    """Input: rotmats (B, 24, 3, 3) (the root is dropped) and betas (B, 10).
    Output: (B, 25) scores, ``[23 per-joint | full pose | shape]`` for ``score_order`` ``tf_hmr``,
    ``[23 per-joint | shape | full pose]`` for ``4d_humans`` (``SCORE_ORDERS``)."""

    def __init__(self, score_order="tf_hmr"):
        super().__init__()
        if score_order not in SCORE_ORDERS:
            raise ValueError(f"score_order must be one of {sorted(SCORE_ORDERS)}, got {score_order!r}")
        self.score_order = SCORE_ORDERS[score_order]
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
        scores = {"joints": per_joint, "pose": full, "shape": shape}
        return ops.concat([scores[name] for name in self.score_order], 1)
