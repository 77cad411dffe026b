"""Small raw datasets in their native formats (field names, shapes, orientation, dtype).

Each writer takes ``rng``-drawn keypoints so the tests know the truth they must get back.
Images are tiny JPEGs (the converters never open them; the loaders do).
"""
import json
import os

import cv2
import numpy as np
import scipy.io

IMAGE_SIDE = 64


def write_image(path, side=IMAGE_SIDE):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cv2.imwrite(path, np.full((side, side, 3), 128, np.uint8))


def person_points(rng, count, joints):
    """(count, joints, 2) keypoints spread over a 200-pixel person."""
    return rng.uniform(20, 220, (count, joints, 2))


def write_lsp(root, rng, count=1004, images=False):
    """lsp/joints.mat: 'joints' (3, 14, N) float64; third row 1 = occluded. ``images``: write every JPEG."""
    xy = person_points(rng, count, 14)
    occluded = (rng.random((count, 14)) < 0.2).astype(np.float64)
    joints = np.concatenate([xy, occluded[..., None]], 2).transpose(2, 1, 0)     # (3, 14, N)
    folder = os.path.join(root, "lsp")
    os.makedirs(os.path.join(folder, "images"), exist_ok=True)
    scipy.io.savemat(os.path.join(folder, "joints.mat"), {"joints": joints})
    for i in range(count if images else 1):
        write_image(os.path.join(folder, "images", f"im{i + 1:04d}.jpg"))
    return xy, 1.0 - occluded


def write_lsp_ext(root, rng, count=12, folder_name="lsp_exd"):
    """joints.mat: 'joints' (14, 3, N); third row 1 = visible."""
    xy = person_points(rng, count, 14)
    visible = (rng.random((count, 14)) < 0.8).astype(np.float64)
    joints = np.concatenate([xy, visible[..., None]], 2).transpose(1, 2, 0)      # (14, 3, N)
    folder = os.path.join(root, folder_name)
    os.makedirs(os.path.join(folder, "images"), exist_ok=True)
    scipy.io.savemat(os.path.join(folder, "joints.mat"), {"joints": joints})
    return xy, visible


def _struct_array(records, fields):
    """A 1 x N MATLAB struct array from a list of dicts."""
    array = np.zeros((1, len(records)), dtype=[(f, object) for f in fields])
    for i, record in enumerate(records):
        for f in fields:
            array[0, i][f] = record.get(f, np.zeros((0, 0)))
    return array


def write_mpii(root, rng):
    """mpii/mpii_human_pose_v1_u12_2/mpii_human_pose_v1_u12_1.mat with struct 'RELEASE'.

    Image 0 (train): two people, the first with 16 points (visibility as 0/1 numbers, one
    as an empty array), the second without annopoints. Image 1 (test): one person.
    Image 2 (train): one person (a 1 x 1 struct array, which loads as a single struct) with
    visibility stored as strings and three joints absent.
    Returns the truth of the kept samples: list of ((16, 2) points, (16,) visibility).
    """
    truth = []
    point_fields = ("x", "y", "id", "is_visible")

    def rect(points, visible, present, as_string=False):
        recs = []
        for j in range(16):
            if not present[j]:
                continue
            vis = np.zeros((0, 0)) if visible[j] is None else (str(int(visible[j])) if as_string else visible[j])
            recs.append({"x": float(points[j, 0]), "y": float(points[j, 1]), "id": j, "is_visible": vis})
        annopoints = _struct_array([{"point": _struct_array(recs, point_fields)}], ("point",))
        return {"x1": 1.0, "y1": 1.0, "x2": 50.0, "y2": 60.0, "scale": 1.5, "annopoints": annopoints,
                "objpos": _struct_array([{"x": 30.0, "y": 40.0}], ("x", "y"))}

    rect_fields = ("x1", "y1", "x2", "y2", "annopoints", "scale", "objpos")
    p0 = person_points(rng, 1, 16)[0]
    vis0 = [1.0] * 16
    vis0[3], vis0[7] = 0.0, None
    truth.append((p0, np.array([1.0 if v is None else v for v in vis0])))
    img0 = {"image": _struct_array([{"name": "000001163.jpg"}], ("name",)),
            "annorect": _struct_array([rect(p0, vis0, [True] * 16), {"scale": 2.0}], rect_fields)}
    p1 = person_points(rng, 1, 16)[0]
    img1 = {"image": _struct_array([{"name": "000003072.jpg"}], ("name",)),
            "annorect": _struct_array([rect(p1, [1.0] * 16, [True] * 16)], rect_fields)}
    p2 = person_points(rng, 1, 16)[0]
    present = [j not in (0, 5, 9) for j in range(16)]
    vis2 = [0.0 if j == 12 else 1.0 for j in range(16)]
    truth.append((p2, np.array([float(vis2[j] and present[j]) for j in range(16)])))
    img2 = {"image": _struct_array([{"name": "000004812.jpg"}], ("name",)),
            "annorect": _struct_array([rect(p2, vis2, present, as_string=True)], rect_fields)}
    annolist = _struct_array([img0, img1, img2], ("image", "annorect", "frame_sec", "vididx"))
    release = _struct_array([{"annolist": annolist, "img_train": np.array([[1, 0, 1]], np.uint8),
                              "version": "12", "single_person": np.zeros((3, 1), object),
                              "act": np.zeros((3, 1), object), "video_list": np.zeros((1, 0), object)}],
                            ("annolist", "img_train", "version", "single_person", "act", "video_list"))
    folder = os.path.join(root, "mpii", "mpii_human_pose_v1_u12_2")
    os.makedirs(folder, exist_ok=True)
    scipy.io.savemat(os.path.join(folder, "mpii_human_pose_v1_u12_1.mat"), {"RELEASE": release})
    return truth


def write_coco(root, rng):
    """coco2017/annotations/person_keypoints_{train,val}2017.json (COCO 17, v in 0/1/2).

    Train: person 1 kept (all 17 labelled, some v=1), person 2 has 4 keypoints (dropped),
    person 3 is a crowd (dropped), person 4 is 20 pixels tall (dropped). Val: one kept.
    Returns the kept people's (17, 3) keypoints per split.
    """
    def person(ann_id, image_id, kp, crowd=0):
        return {"id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": crowd,
                "num_keypoints": int((kp[:, 2] > 0).sum()), "keypoints": kp.reshape(-1).tolist(),
                "bbox": [0, 0, 10, 10], "area": 100.0}

    def keypoints(visible_count, extent=200.0):
        kp = np.zeros((17, 3))
        kp[:, :2] = np.round(rng.uniform(10, 10 + extent, (17, 2)))
        kp[:visible_count, 2] = 2
        kp[1:visible_count:4, 2] = 1
        kp[visible_count:, :2] = 0
        return kp

    kept = {"train": [keypoints(17)], "val": [keypoints(12)]}
    small = keypoints(17, extent=20.0)
    anns = {"train": [person(1, 10, kept["train"][0]), person(2, 10, keypoints(4)),
                      person(3, 11, keypoints(17), crowd=1), person(4, 11, small)],
            "val": [person(5, 20, kept["val"][0])]}
    images = {"train": [{"id": 10, "file_name": "000000000010.jpg", "width": 640, "height": 480},
                        {"id": 11, "file_name": "000000000011.jpg", "width": 640, "height": 480}],
              "val": [{"id": 20, "file_name": "000000000020.jpg", "width": 640, "height": 480}]}
    folder = os.path.join(root, "coco2017", "annotations")
    os.makedirs(folder, exist_ok=True)
    for split in ("train", "val"):
        payload = {"info": {}, "licenses": [], "images": images[split], "annotations": anns[split],
                   "categories": [{"id": 1, "name": "person", "keypoints": [], "skeleton": []}]}
        with open(os.path.join(folder, f"person_keypoints_{split}2017.json"), "w") as handle:
            json.dump(payload, handle)
    return kept


H36M_CAMERAS = ("54138969", "55011271", "58860488", "60457274")


def write_annot_h5(folder, names, rng, with_smpl=True, millimetres=True, images=False):
    """annot.h5 as the earlier port ships it: gt2d (N,14,3), gt3d (N,14,3), pose, shape, imagename (bytes)."""
    import h5py
    n = len(names)
    gt2d = np.concatenate([person_points(rng, n, 14), np.ones((n, 14, 1))], 2)
    gt3d_m = rng.normal(0, 0.4, (n, 14, 3)) + np.array([0, 0, 5.0])
    with h5py.File(os.path.join(folder, "annot.h5"), "w") as handle:
        handle.create_dataset("gt2d", data=gt2d)
        handle.create_dataset("gt3d", data=gt3d_m * (1000.0 if millimetres else 1.0))
        if with_smpl:
            handle.create_dataset("pose", data=rng.normal(0, 0.2, (n, 72)))
            handle.create_dataset("shape", data=rng.normal(0, 1.0, (n, 10)))
        handle.create_dataset("imagename", data=np.array([name.encode() for name in names]))
    os.makedirs(os.path.join(folder, "images"), exist_ok=True)
    for name in names if images else ():
        write_image(os.path.join(folder, "images", name.lstrip("/")))
    return gt2d, gt3d_m


def h36m_names():
    """Image names of two frames per (subject, action, camera) over train and test subjects."""
    names = []
    for subject in ("S1", "S5", "S9", "S11"):
        for action in ("Directions_1", "WalkDog"):
            for camera in H36M_CAMERAS:
                for frame in (1, 6):
                    names.append(f"/{subject}_{action}.{camera}_{frame:06d}.jpg")
    return names


def write_h36m(root, rng, images=False):
    folder = os.path.join(root, "human3.6m")
    os.makedirs(folder, exist_ok=True)
    names = h36m_names()
    return names, write_annot_h5(folder, names, rng, images=images)


def write_mpi_inf_3dhp(root, rng):
    folder = os.path.join(root, "mpii_3d")
    os.makedirs(folder, exist_ok=True)
    names = [f"S{s}_Seq{q}_video_{v}_frame_{f:06d}.jpg" for s in range(1, 9) for q in (1, 2) for v in (0, 8)
             for f in (1,)]
    return names, write_annot_h5(folder, names, rng, with_smpl=False, millimetres=False)


def write_mosh(root, rng):
    """mosh/*.npz: one CMU-style file (pose/shape only), one naming H36M subjects per sample."""
    folder = os.path.join(root, "mosh")
    os.makedirs(folder, exist_ok=True)
    np.savez(os.path.join(folder, "cmu_mosh.npz"), pose=rng.normal(0, 0.2, (7, 72)), shape=rng.normal(0, 1, (7, 10)))
    subjects = np.array(["S1", "S9", "S11", "S5"])
    np.savez(os.path.join(folder, "h36m_mosh.npz"), pose=rng.normal(0, 0.2, (4, 72)),
             shape=rng.normal(0, 1, (4, 10)), subject=subjects)
