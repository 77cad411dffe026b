"""Pose parameterisations of the heads: a head's pose parameters -> axis-angle and rotation matrices.

Each head names its decoder (``head.pose_decoder()``); the model holds it beside the head rather than
inside it, so that the head can run in float16 (``HMR.precision``) while the conversion, like SMPL,
stays float32.
"""
from mindspore import nn

from HMR.constants import NUM_POSE_PARAMS, NUM_SMPL_JOINTS
from HMR.geometry import batch_rodrigues, rot6d_to_rotmat, rotmat_to_axis_angle


class AxisAngleDecoder(nn.Cell):
    """HMR's axis-angle pose (N, 72)."""

    def to_rotations(self, pose_params):
        """(N, 72) -> (the same (N, 72), rotation matrices (N, 24, 3, 3))."""
        return pose_params, self.rotation_matrices(pose_params)

    def rotation_matrices(self, pose_params):
        """Axis-angle (N, 72) -> rotation matrices (N, 24, 3, 3)."""
        return batch_rodrigues(pose_params.reshape(-1, 3)).reshape(-1, NUM_SMPL_JOINTS, 3, 3)


class SixDDecoder(nn.Cell):
    """The 6D rotation representation (N, 144) in ``layout`` (``HMR.geometry.ROT6D_LAYOUTS``: SPIN's or
    HMR 2.0's)."""

    def __init__(self, layout="spin"):
        super().__init__()
        self.layout = layout

    def to_rotations(self, pose_params):
        """6D (N, 144) -> (axis-angle (N, 72), rotation matrices (N, 24, 3, 3))."""
        rotmats = self.rotation_matrices(pose_params)
        return rotmat_to_axis_angle(rotmats).reshape(-1, NUM_POSE_PARAMS), rotmats

    def rotation_matrices(self, pose_params):
        """6D (N, 144) -> rotation matrices (N, 24, 3, 3)."""
        return rot6d_to_rotmat(pose_params.reshape(-1, NUM_SMPL_JOINTS, 6), self.layout)
