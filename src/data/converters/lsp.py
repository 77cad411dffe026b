"""LSP and LSP-extended (``joints.mat``) -> uniform npz.

* LSP (Johnson & Everingham 2010): ``lsp/joints.mat`` key ``joints`` (3, 14, 2000); rows x, y
  and an *occlusion* flag (1 = occluded). Images ``lsp/images/im0001.jpg`` ... The first
  1000 images are the training half, the rest the test half (written separately).
* LSP-extended (2011): ``joints.mat`` (14, 3, 10000); the third row is a *visibility* flag
  (1 = visible). Images ``im00001.jpg`` (or the ``.png`` of the high-resolution release).
The 14 joints are already in LSP order, i.e. J24 slots 0-13.
"""
import os

import numpy as np

from src.data.converters.common import (Conversion, box_from_keypoints, field, find_first, finish,
                                            j24_part, load_mat, relative_name)

LSP_TRAIN_IMAGES = 1000
LSP_FOLDERS = ("lsp", "lsp_dataset", "leeds_sports_pose")
LSP_EXT_FOLDERS = ("lsp_ext", "lsp_exd", "lspet", "lsp_dataset_extended", "hr-lspet")
LSP14_SLOTS = tuple(range(14))


def _samples(name, joints_xyv, image_names, indices, margin):
    """joints_xyv: (N, 14, 3) x, y, visibility (already 0/1 visible)."""
    conv = Conversion(name)
    for i in indices:
        points, visible = joints_xyv[i, :, :2], joints_xyv[i, :, 2]
        box = box_from_keypoints(points, visible, margin)
        if box is None:
            conv.drop("fewer than 2 visible joints")
            continue
        conv.add(imgname=image_names[i], center=box[0], scale=box[1], part=j24_part(points, visible, LSP14_SLOTS))
    return conv


def _image_names(image_dir, pattern, count, output_dir):
    """``pattern % (i + 1)`` for i < count, with the extension found on disk (.jpg, else .png)."""
    ext = ".jpg"
    if not os.path.isfile(os.path.join(image_dir, pattern % 1 + ".jpg")) and \
            os.path.isfile(os.path.join(image_dir, pattern % 1 + ".png")):
        ext = ".png"
    return [relative_name(os.path.join(image_dir, pattern % (i + 1) + ext), output_dir) for i in range(count)]


def convert_lsp(data_path, output_dir, options):
    root = find_first("LSP", data_path, LSP_FOLDERS, kind="folder")
    mat_path = os.path.join(root, "joints.mat")
    joints = field(mat_path, load_mat(mat_path, "LSP"), "joints", (3, 14, None)).astype(np.float64)
    xyv = joints.transpose(2, 1, 0).copy()          # (N, 14, 3)
    xyv[:, :, 2] = 1.0 - xyv[:, :, 2]               # occluded -> visible
    names = _image_names(os.path.join(root, "images"), "im%04d", len(xyv), output_dir)
    train = range(min(LSP_TRAIN_IMAGES, len(xyv)))
    test = range(LSP_TRAIN_IMAGES, len(xyv))
    return [finish(_samples("lsp_train", xyv, names, train, options["bbox_margin"]), output_dir, "lsp_train.npz"),
            finish(_samples("lsp_test", xyv, names, test, options["bbox_margin"]), output_dir, "lsp_test.npz")]


def convert_lsp_ext(data_path, output_dir, options):
    root = find_first("LSP-extended", data_path, LSP_EXT_FOLDERS, kind="folder")
    mat_path = os.path.join(root, "joints.mat")
    joints = field(mat_path, load_mat(mat_path, "LSP-extended"), "joints", (14, 3, None)).astype(np.float64)
    xyv = joints.transpose(2, 0, 1).copy()          # (N, 14, 3), third = visible
    names = _image_names(os.path.join(root, "images"), "im%05d", len(xyv), output_dir)
    conv = _samples("lsp_ext_train", xyv, names, range(len(xyv)), options["bbox_margin"])
    return [finish(conv, output_dir, "lsp_ext_train.npz")]
