"""What a detector returns, and the keypoint sets it is mapped to."""
from dataclasses import dataclass

import numpy as np

from HMR.constants import H36M17_NAMES, J24_NAMES, J24_TO_COCOPLUS19, J24_TO_LSP14

# BlazePose's 33 landmarks (person's left/right), in model order.
BLAZEPOSE33_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index")
# J24 slots BlazePose has directly (the neck and pelvis are midpoints, MIDPOINT_SLOTS; the rest are invisible).
J24_FROM_BLAZEPOSE = {J24_NAMES.index(n): BLAZEPOSE33_NAMES.index(n) for n in (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "right_wrist", "right_elbow",
    "right_shoulder", "left_shoulder", "left_elbow", "left_wrist", "nose", "left_eye", "right_eye", "left_ear",
    "right_ear")}
SHOULDERS = (BLAZEPOSE33_NAMES.index("left_shoulder"), BLAZEPOSE33_NAMES.index("right_shoulder"))
# J24 slots at the midpoint of two landmarks (visible when both are): the neck between the shoulders, the pelvis
# between the hips (as 3DCrowdNet adds it to OpenPose's joints for its 2D pose input)
MIDPOINT_SLOTS = {J24_NAMES.index("neck"): SHOULDERS,
                  J24_NAMES.index("pelvis"): (BLAZEPOSE33_NAMES.index("left_hip"), BLAZEPOSE33_NAMES.index("right_hip"))}
# H36M joints from BlazePose landmarks: the limbs directly; pelvis, thorax, head as midpoints of
# the hips, shoulders and ears; the spine halfway between pelvis and thorax; neck/nose the nose
_MIDPOINTS = {"pelvis": ("left_hip", "right_hip"), "thorax": ("left_shoulder", "right_shoulder"),
              "head": ("left_ear", "right_ear")}
H36M17_FROM_BLAZEPOSE = {"neck_nose": "nose"}
KEYPOINT_SETS = {"lsp14": J24_TO_LSP14, "cocoplus19": J24_TO_COCOPLUS19, "j24": tuple(range(24))}


@dataclass
class Person:
    """One detected person: ``box`` x, y, w, h (pixels), ``score`` in [0, 1], ``landmarks``
    (33, 3) BlazePose x, y (pixels) and visibility in [0, 1] (None without a landmark model)."""
    box: np.ndarray
    score: float
    landmarks: np.ndarray = None

    def keypoints(self, keypoint_set="j24", min_visibility=0.5):
        """(K, 3) x, y, visible (0/1) in one of the project's keypoint orders (``KEYPOINT_SETS``)."""
        j24 = np.zeros((24, 3))
        if self.landmarks is not None:
            for slot, index in J24_FROM_BLAZEPOSE.items():
                j24[slot] = self.landmarks[index]
            for slot, (a, b) in MIDPOINT_SLOTS.items():
                ends = self.landmarks[[a, b]]
                j24[slot] = [*ends[:, :2].mean(0), ends[:, 2].min()]
        j24[:, 2] = (j24[:, 2] >= min_visibility).astype(np.float64)
        j24[j24[:, 2] == 0, :2] = 0.0
        return j24[list(KEYPOINT_SETS[keypoint_set])]

    def h36m17(self):
        """(17, 3) x, y (pixels) and BlazePose's visibility as confidence, in H36M order (the
        temporal refiner's 2D input); zeros without landmarks."""
        out = np.zeros((len(H36M17_NAMES), 3))
        if self.landmarks is None:
            return out
        point = {name: self.landmarks[BLAZEPOSE33_NAMES.index(name)] for name in BLAZEPOSE33_NAMES}
        for name, (a, b) in _MIDPOINTS.items():
            point[name] = np.array([*(point[a][:2] + point[b][:2]) / 2, min(point[a][2], point[b][2])])
        point["spine"] = np.array([*(point["pelvis"][:2] + point["thorax"][:2]) / 2,
                                   min(point["pelvis"][2], point["thorax"][2])])
        for j, name in enumerate(H36M17_NAMES):
            out[j] = point[H36M17_FROM_BLAZEPOSE.get(name, name)]
        return out
