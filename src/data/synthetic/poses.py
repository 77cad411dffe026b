"""Random plausible body poses and shapes for the embedded default data.

Joint limits are axis-angle ranges per axis (radians) in SMPL's local frames (x left,
y up, z forward in the T-pose). Right-side limits mirror the left ones with y and z
negated, the same rule the SMPL pose flip uses.
"""
import numpy as np

from HMR.constants import NUM_BETAS, SMPL_JOINT_NAMES

# (x range, y range, z range) for the root-free joints; left side and the spine only.
_LIMITS = {
    "left_hip": ((-1.5, 0.4), (-0.4, 0.4), (-0.1, 0.6)),
    "spine1": ((-0.2, 0.5), (-0.3, 0.3), (-0.2, 0.2)),
    "left_knee": ((0.0, 2.0), (-0.05, 0.05), (-0.05, 0.05)),
    "spine2": ((-0.1, 0.25), (-0.15, 0.15), (-0.1, 0.1)),
    "left_ankle": ((-0.3, 0.4), (-0.15, 0.15), (-0.1, 0.1)),
    "spine3": ((-0.1, 0.25), (-0.15, 0.15), (-0.1, 0.1)),
    "left_foot": ((-0.1, 0.1), (-0.05, 0.05), (-0.05, 0.05)),
    "neck": ((-0.3, 0.4), (-0.4, 0.4), (-0.2, 0.2)),
    "left_collar": ((-0.1, 0.1), (-0.2, 0.2), (-0.1, 0.25)),
    "head": ((-0.2, 0.3), (-0.3, 0.3), (-0.15, 0.15)),
    "left_shoulder": ((-0.6, 0.6), (-0.9, 0.5), (-1.3, 0.5)),
    "left_elbow": ((-0.1, 0.1), (-2.2, 0.0), (-0.2, 0.2)),
    "left_wrist": ((-0.4, 0.4), (-0.3, 0.3), (-0.5, 0.5)),
    "left_hand": ((-0.2, 0.2), (-0.1, 0.1), (-0.2, 0.2)),
}


def pose_limits():
    """(24, 3, 2) array of [min, max] axis-angle per joint and axis; the root is left at 0."""
    limits = np.zeros((len(SMPL_JOINT_NAMES), 3, 2))
    for j, name in enumerate(SMPL_JOINT_NAMES):
        if name in _LIMITS:
            limits[j] = _LIMITS[name]
        elif name.startswith("right_"):
            left = np.asarray(_LIMITS["left_" + name[len("right_"):]], np.float64)
            limits[j, 0] = left[0]
            limits[j, 1:] = -left[1:, ::-1]
    return limits


def sample_body_poses(rng, num, spread=1.0):
    """Sample ``num`` body poses (num, 72) within the joint limits; root orientation is zero.

    ``spread`` in (0, 1] narrows every range around its centre (1 = the full range).
    """
    limits = pose_limits()
    centre, half = limits.mean(-1), (limits[..., 1] - limits[..., 0]) / 2 * spread
    poses = centre + half * rng.uniform(-1.0, 1.0, size=(num,) + centre.shape)
    poses[:, 0] = 0.0
    return poses.reshape(num, -1).astype(np.float32)


def sample_betas(rng, num, scale=1.0):
    """Sample ``num`` shape vectors (num, 10) from N(0, scale^2), clipped to +-3 scale."""
    return np.clip(rng.normal(0.0, scale, (num, NUM_BETAS)), -3 * scale, 3 * scale).astype(np.float32)
