"""COCO 2017 keypoints (``person_keypoints_{train,val}2017.json``) -> uniform npz.

A person is kept when it is not a crowd region, has at least ``coco_min_keypoints``
labelled keypoints (COCO v > 0: 1 = labelled but hidden, 2 = visible; both are real
locations) and a keypoint box of at least ``coco_min_box_side`` pixels. COCO 17 ->
J24: the 12 limb joints go to LSP slots 0-11, the five face points to J24 19-23; neck
and head top do not exist in COCO (visibility 0).
"""
import json
import os

import numpy as np

from HMR.constants import J24_NAMES
from model_utils.errors import UserInputError
from src.data.converters.common import Conversion, box_from_keypoints, find_first, finish, j24_part, \
    relative_name

COCO_FOLDERS = ("coco2017", "coco", "COCO")
COCO17_NAMES = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
                "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
                "right_knee", "left_ankle", "right_ankle")
COCO17_TO_J24 = tuple(J24_NAMES.index(n) for n in COCO17_NAMES)
NUM_COCO_JOINTS = 17
VAL_ANNOTATIONS = "annotations/person_keypoints_val2017.json"   # optional; train is required


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as err:
        raise UserInputError(f"COCO: {path} is not a readable JSON file ({err})") from err


def _convert_split(root, split, output_dir, options):
    ann_path = find_first("COCO", root, (f"annotations/person_keypoints_{split}2017.json",))
    data = _read_json(ann_path)
    for key in ("images", "annotations"):
        if key not in data or not isinstance(data[key], list):
            raise UserInputError(f"{ann_path}: field '{key}' missing or not a list")
    try:
        files = {int(image["id"]): image["file_name"] for image in data["images"]}
    except (KeyError, TypeError, ValueError) as err:
        raise UserInputError(f"{ann_path}: field 'images' entries need 'id' and 'file_name' ({err})") from err
    image_dir = os.path.join(root, f"{split}2017")
    conv = Conversion(f"coco_{split}")
    for ann in data["annotations"]:
        if ann.get("category_id", 1) != 1:
            continue
        if ann.get("iscrowd", 0):
            conv.drop("crowd")
            continue
        keypoints = np.asarray(ann.get("keypoints", []), np.float64)
        if keypoints.size != 3 * NUM_COCO_JOINTS:
            raise UserInputError(f"{ann_path}: field 'keypoints' of annotation {ann.get('id')} has "
                                 f"{keypoints.size} values, expected {3 * NUM_COCO_JOINTS}")
        if int(ann.get("image_id", -1)) not in files:
            raise UserInputError(f"{ann_path}: field 'image_id' {ann.get('image_id')} of annotation "
                                 f"{ann.get('id')} is not in 'images'")
        keypoints = keypoints.reshape(NUM_COCO_JOINTS, 3)
        visible = (keypoints[:, 2] > 0).astype(np.float64)
        if visible.sum() < options["coco_min_keypoints"]:
            conv.drop("too few keypoints")
            continue
        points = keypoints[:, :2]
        extent = (points[visible > 0].max(0) - points[visible > 0].min(0)).max()
        if extent < options["coco_min_box_side"]:
            conv.drop("box too small")
            continue
        center, scale = box_from_keypoints(points, visible, options["bbox_margin"])
        conv.add(imgname=relative_name(os.path.join(image_dir, files[int(ann["image_id"])]), output_dir),
                 center=center, scale=scale, part=j24_part(points, visible, COCO17_TO_J24))
    return finish(conv, output_dir, f"coco_{split}.npz")


def convert_coco(data_path, output_dir, options):
    root = find_first("COCO", data_path, COCO_FOLDERS, kind="folder")
    summaries = [_convert_split(root, "train", output_dir, options)]
    if os.path.isfile(os.path.join(root, VAL_ANNOTATIONS)):
        summaries.append(_convert_split(root, "val", output_dir, options))
    return summaries
