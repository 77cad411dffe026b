"""3DCrowdNet's 2D pose input: a crop's 2D keypoints as the 30 joints of ``HMR.constants.CROWD30_NAMES`` in the
64 x 64 heatmap grid of the 256 px crop (``joints`` (30, 2)) and which of them are given (``joints_mask``
(30, 1)).

The joints the keypoints name (by name: ankles, knees, hips, wrists, elbows, shoulders, neck, head top, pelvis,
nose, eyes, ears of the J24 set) are placed; the others are masked, as 3DCrowdNet's ``transform_joint_to_other_db``
leaves them. The mask is the labels' (visible and inside the grid: the original's truncation mask), computed before
any corruption. With a seed, the COCO joints among them are corrupted as 3DCrowdNet's training corrupts them
(``src/data/posefix.py``), in crop pixels, the person's box taken from its labelled keypoints (no near people in
this project's single-person samples yet).
"""
import numpy as np

from HMR.constants import COCO17_NAMES, CROWD30_NAMES, CROWD_HEATMAP_SIZE, CROWD_INPUT_SIZE, J24_NAMES
from model_utils.errors import UserInputError
from src.data.posefix import synthesize_pose

J24_TO_CROWD30 = tuple((J24_NAMES.index(n), CROWD30_NAMES.index(n)) for n in J24_NAMES if n in CROWD30_NAMES)
COCO17_FROM_J24 = tuple(J24_NAMES.index(n) for n in COCO17_NAMES)
CROWD30_FROM_COCO17 = tuple(CROWD30_NAMES.index(n) for n in COCO17_NAMES)


def pose_input(keypoints, seed=None):
    """J24 keypoints (24, 3) in normalised crop coordinates [-1, 1] + visibility -> (joints (30, 2) in the 64-grid,
    joints_mask (30, 1)); ``seed``: corrupt the COCO joints (training) with this seed, or None (as labelled)."""
    keypoints = np.asarray(keypoints, np.float32)
    grid = (keypoints[:, :2] + 1.0) * 0.5 * CROWD_HEATMAP_SIZE
    visible = keypoints[:, 2] > 0
    joints = np.zeros((len(CROWD30_NAMES), 2), np.float32)
    mask = np.zeros((len(CROWD30_NAMES), 1), np.float32)
    for source, target in J24_TO_CROWD30:
        joints[target] = grid[source]
        inside = np.all((grid[source] >= 0) & (grid[source] < CROWD_HEATMAP_SIZE))
        mask[target] = float(visible[source] and inside)
    if seed is not None and visible.any():
        to_pixels = CROWD_INPUT_SIZE / CROWD_HEATMAP_SIZE
        coco = np.concatenate([grid[list(COCO17_FROM_J24)] * to_pixels,
                               visible[list(COCO17_FROM_J24), None].astype(np.float32)], 1)
        labelled = grid[visible] * to_pixels
        width, height = labelled.max(0) - labelled.min(0)
        corrupted = synthesize_pose(coco, np.zeros((0, 17, 3)), float(width * height), 0, np.random.default_rng(seed))
        labelled_coco = coco[:, 2] > 0
        joints[np.asarray(CROWD30_FROM_COCO17)[labelled_coco]] = corrupted[labelled_coco, :2] / to_pixels
    return joints, mask


_LAST_POSE = {}      # the last sample's pose input: the joints and joints_mask providers both ask for it


def _sample_pose(sample):
    """:func:`pose_input` of ``sample`` (computed once for the two providers of one sample; read-only arrays)."""
    if sample is None or "keypoints" not in sample:
        raise UserInputError("architecture crowdnet takes a 2D pose per crop (extra inputs joints, joints_mask): "
                             "this job gives only the crop's box")
    keypoints, seed = np.asarray(sample["keypoints"], np.float32), sample.get("seed")
    key = (keypoints.tobytes(), repr(seed))
    if key not in _LAST_POSE:
        joints, mask = pose_input(keypoints, seed)
        joints.flags.writeable = mask.flags.writeable = False
        _LAST_POSE.clear()
        _LAST_POSE[key] = joints, mask
    return _LAST_POSE[key]


def input_joints(frame, sample=None):
    """Provider of ``joints`` (30, 2)."""
    return _sample_pose(sample)[0]


def input_joints_mask(frame, sample=None):
    """Provider of ``joints_mask`` (30, 1)."""
    return _sample_pose(sample)[1]
