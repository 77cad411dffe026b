"""MPII Human Pose (``mpii_human_pose_v1_u12_1.mat``) -> uniform npz.

The release file holds the MATLAB struct ``RELEASE`` with ``annolist`` (one entry per
image: ``image.name`` and ``annorect``, the people) and ``img_train`` (1 = training image;
test annotations are not public). A person with ``annopoints.point`` contributes one
sample; each point has ``x``, ``y``, ``id`` (0-15) and ``is_visible`` (0/1, sometimes empty
or a string). Points that are absent are invisible; a present point whose visibility is
empty counts as visible (it was annotated at a location).

MPII ids: 0 r ankle, 1 r knee, 2 r hip, 3 l hip, 4 l knee, 5 l ankle, 6 pelvis, 7 thorax,
8 upper neck, 9 head top, 10 r wrist, 11 r elbow, 12 r shoulder, 13 l shoulder,
14 l elbow, 15 l wrist.
"""
import os

import numpy as np

from HMR.constants import J24_NAMES
from model_utils.errors import UserInputError
from src.data.converters.common import Conversion, box_from_keypoints, find_first, finish, j24_part, load_mat, \
    relative_name

MPII_FOLDERS = ("mpii", "MPII")
MPII_MAT = ("mpii_human_pose_v1_u12_2/mpii_human_pose_v1_u12_1.mat", "mpii_human_pose_v1_u12_1.mat",
            "annot/mpii_human_pose_v1_u12_1.mat", "annotations/mpii_human_pose_v1_u12_1.mat")
MPII16_NAMES = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "pelvis",
                "thorax", "neck", "head_top", "right_wrist", "right_elbow", "right_shoulder", "left_shoulder",
                "left_elbow", "left_wrist")
MPII16_TO_J24 = tuple(J24_NAMES.index(n) for n in MPII16_NAMES)   # upper neck -> LSP neck
NUM_MPII_JOINTS = 16


def _items(value):
    """A MATLAB struct array (as loaded with squeeze_me) as a Python list."""
    if value is None:
        return []
    if isinstance(value, np.ndarray):
        return list(value.ravel())
    return [value]


def _visibility(raw):
    """is_visible as 0/1: empty (or missing) counts as visible."""
    if isinstance(raw, np.ndarray):
        if raw.size == 0:
            return 1.0
        raw = raw.ravel()[0]
    if isinstance(raw, str):
        return 1.0 if raw.strip() in ("", "1") else 0.0
    return float(int(raw) != 0)


def _person(path, rect):
    """(16, 2) points and (16,) visibility of one annorect, or None when it has no points."""
    annopoints = getattr(rect, "annopoints", None)
    if annopoints is None or isinstance(annopoints, np.ndarray) and annopoints.size == 0:
        return None
    points, visible = np.zeros((NUM_MPII_JOINTS, 2)), np.zeros(NUM_MPII_JOINTS)
    for point in _items(getattr(annopoints, "point", None)):
        try:
            joint = int(point.id)
            points[joint] = float(point.x), float(point.y)
        except (AttributeError, TypeError, ValueError) as err:
            raise UserInputError(f"{path}: field 'annopoints.point' has an entry without numeric x/y/id ({err})")
        if not 0 <= joint < NUM_MPII_JOINTS:
            raise UserInputError(f"{path}: field 'annopoints.point.id' = {joint}, expected 0..15")
        visible[joint] = _visibility(getattr(point, "is_visible", np.zeros(0)))
    return points, visible


def convert_mpii(data_path, output_dir, options):
    root = find_first("MPII", data_path, MPII_FOLDERS, kind="folder")
    mat_path = find_first("MPII", root, MPII_MAT)
    mat = load_mat(mat_path, "MPII", struct_as_record=False, squeeze_me=True)
    if "RELEASE" not in mat:
        raise UserInputError(f"{mat_path}: field 'RELEASE' missing; found {sorted(k for k in mat if not k.startswith('__'))}")
    release = mat["RELEASE"]
    try:
        annolist, img_train = _items(release.annolist), np.asarray(release.img_train).ravel()
    except AttributeError as err:
        raise UserInputError(f"{mat_path}: field 'RELEASE.annolist' or 'RELEASE.img_train' missing ({err})") from err
    if len(annolist) != len(img_train):
        raise UserInputError(f"{mat_path}: 'RELEASE.annolist' has {len(annolist)} entries but 'RELEASE.img_train' "
                             f"{len(img_train)}")
    image_dir = os.path.join(root, "images")
    conv = Conversion("mpii_train")
    for entry, is_train in zip(annolist, img_train):
        if not is_train:
            continue
        name = str(entry.image.name)
        for rect in _items(getattr(entry, "annorect", None)):
            person = _person(mat_path, rect)
            if person is None:
                conv.drop("no keypoints")
                continue
            box = box_from_keypoints(person[0], person[1], options["bbox_margin"])
            if box is None:
                conv.drop("fewer than 2 visible joints")
                continue
            conv.add(imgname=relative_name(os.path.join(image_dir, name), output_dir), center=box[0], scale=box[1],
                     part=j24_part(person[0], person[1], MPII16_TO_J24))
    return [finish(conv, output_dir, "mpii_train.npz")]
