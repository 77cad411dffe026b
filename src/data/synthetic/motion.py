"""Smooth motions of the synthetic body for the embedded default's video sequences.

A sequence is ``length`` frames of one body (fixed betas) doing one of two things:

- ``keys``: key poses (sampled within the joint limits) every ``KEY_SPACING`` frames, each
  joint's rotation interpolated between them by spherical interpolation with a cosine ease
  (velocity zero at every key pose: no jerks);
- ``walk``: a walking-like cycle of the hips, knees, ankles, shoulders and elbows (period
  ``WALK_PERIOD_RANGE`` frames) over a mildly varying key-pose base.

The root turns at a constant rate (yaw), leans slightly, and the body's box centre moves on a
straight line across the frame while its distance drifts. Everything is deterministic from
the generator given.
"""
import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from HMR.constants import SMPL_JOINT_NAMES

KEY_SPACING = 16                          # frames between key poses
KEY_SPREAD = 0.6                          # of the joint-limit ranges, for key poses
WALK_BASE_SPREAD = 0.25
WALK_PERIOD_RANGE = (18, 30)              # frames per gait cycle
TURN_RATE = 0.03                          # radians per frame, at most
PIXEL_SPEED = 2.0                         # box-centre pixels per frame, at most
DEPTH_DRIFT = 0.02                        # metres per frame, at most
MOTION_KINDS = ("keys", "walk")
# walking amplitudes (radians) about SMPL's local x axis (flexion); right side in antiphase
_WALK = {"hip": 0.5, "knee": 0.9, "ankle": 0.25, "shoulder": 0.45, "elbow": 0.5}


def _ease(u):
    return (1.0 - np.cos(np.pi * u)) / 2.0


def interpolate_key_poses(keys, length, spacing=KEY_SPACING):
    """Key poses (K, 72) at frames 0, spacing, 2 spacing, ... -> (length, 72) axis-angle, every
    joint slerped with a cosine ease in between."""
    joints = keys.shape[1] // 3
    frames = np.arange(length)
    segment = np.minimum(frames // spacing, len(keys) - 2)
    u = _ease(np.clip(frames / spacing - segment, 0.0, 1.0))
    out = np.zeros((length, joints, 3))
    for j in range(joints):
        rotations = Rotation.from_rotvec(keys[:, 3 * j:3 * j + 3])
        slerp = Slerp(np.arange(len(keys)), rotations)
        out[:, j] = slerp(segment + u).as_rotvec()
    return out.reshape(length, -1)


def walking_offsets(length, period, phase):
    """(length, 72) axis-angle offsets of a gait cycle: hip and ankle flexion and knee bend
    about x, arm swing about y (the T-pose arm's forward axis) against the same side's leg,
    elbows bent; the right side half a cycle behind the left, mirrored as SMPL's flip does."""
    angle = 2 * np.pi * np.arange(length) / period + phase
    offsets = np.zeros((length, len(SMPL_JOINT_NAMES), 3))
    for side, shift, mirror in (("left", 0.0, 1.0), ("right", np.pi, -1.0)):
        swing = np.sin(angle + shift)
        joint = {name: SMPL_JOINT_NAMES.index(f"{side}_{name}") for name in _WALK}
        offsets[:, joint["hip"], 0] = -_WALK["hip"] * swing
        offsets[:, joint["knee"], 0] = _WALK["knee"] * (0.5 + 0.5 * np.sin(angle + shift + 0.8))
        offsets[:, joint["ankle"], 0] = _WALK["ankle"] * swing
        offsets[:, joint["shoulder"], 1] = mirror * _WALK["shoulder"] * swing
        offsets[:, joint["elbow"], 1] = -mirror * _WALK["elbow"]
    return offsets.reshape(length, -1)


def sequence_motion(rng, length, kind, frame_shape, depth_range):
    """One sequence's body pose and where it goes.

    Args:
        kind: one of :data:`MOTION_KINDS`.
        frame_shape: (height, width) of the frames, pixels; depth_range: (near, far) metres.
    Returns:
        dict with ``pose`` (length, 72) body pose in SMPL's frame (root zero), ``yaw``,
        ``pitch``, ``roll`` (length,) radians of the root, ``pixels`` (length, 2) box-centre
        track and ``depth`` (length,) metres.
    """
    from src.data.synthetic.poses import sample_body_poses
    if kind not in MOTION_KINDS:
        raise ValueError(f"motion kind must be one of {MOTION_KINDS}, got {kind!r}")
    num_keys = length // KEY_SPACING + 2
    if kind == "keys":
        pose = interpolate_key_poses(sample_body_poses(rng, num_keys, spread=KEY_SPREAD), length)
    else:
        base = interpolate_key_poses(sample_body_poses(rng, num_keys, spread=WALK_BASE_SPREAD), length)
        pose = base + walking_offsets(length, rng.uniform(*WALK_PERIOD_RANGE), rng.uniform(0, 2 * np.pi))
    pose[:, :3] = 0.0
    frames = np.arange(length)
    yaw = rng.uniform(-np.pi / 2, np.pi / 2) + rng.uniform(-TURN_RATE, TURN_RATE) * frames
    pitch, roll = (np.full(length, rng.uniform(-0.1, 0.1)) for _ in range(2))
    height, width = frame_shape
    start = rng.uniform([0.3 * width, 0.35 * height], [0.7 * width, 0.65 * height])
    pixels = start + rng.uniform(-PIXEL_SPEED, PIXEL_SPEED, 2) * frames[:, None]
    pixels = np.clip(pixels, [0.1 * width, 0.2 * height], [0.9 * width, 0.8 * height])
    depth = np.clip(rng.uniform(*depth_range) + rng.uniform(-DEPTH_DRIFT, DEPTH_DRIFT) * frames, *depth_range)
    return {"pose": pose.astype(np.float32), "yaw": yaw, "pitch": pitch, "roll": roll,
            "pixels": pixels, "depth": depth}
