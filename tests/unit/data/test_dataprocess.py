"""dataprocess.py on fabricated native files of every dataset: joints, order, visibility, splits."""
import os
import subprocess
import sys

import numpy as np
import pytest

from HMR.constants import J24_NAMES
from model_utils.config import load_config
from model_utils.errors import UserInputError
from src.data.schema import load_dataset_npz, load_mocap_npz
from tests.fabricate import native_datasets as native

from conftest import ROOT


def _run(data_path, output_path, *extra):
    import dataprocess
    return dataprocess.main(load_config(["--data_path", str(data_path), "--output_path", str(output_path), *extra]))


def _load(output, name):
    return load_dataset_npz(str(output / name))


def test_lsp_occluded_flag_becomes_visibility_zero_and_halves_split(tmp_path):
    xy, visible = native.write_lsp(str(tmp_path / "raw"), np.random.default_rng(0))
    _run(tmp_path / "raw", tmp_path / "out", "--datasets", "lsp")
    train, test = _load(tmp_path / "out", "lsp_train.npz"), _load(tmp_path / "out", "lsp_test.npz")
    assert len(train["imgname"]) == 1000 and len(test["imgname"]) == 4
    assert train["imgname"][0] == "../raw/lsp/images/im0001.jpg" and test["imgname"][0].endswith("im1001.jpg")
    np.testing.assert_array_equal(train["part"][:, :14, 2], visible[:1000])
    np.testing.assert_array_equal(test["part"][:, :14, 2], visible[1000:])
    np.testing.assert_allclose(train["part"][:, :14, :2], xy[:1000], atol=1e-4)     # occluded joints keep x, y
    assert train["part"][:, 14:].max() == 0
    # the image resolves from the npz folder (where the training loader looks)
    assert os.path.isfile(tmp_path / "out" / train["imgname"][0])
    # box: square around the visible joints with the 1.2 margin
    pts = xy[0][visible[0] > 0]
    np.testing.assert_allclose(train["center"][0], (pts.min(0) + pts.max(0)) / 2, atol=1e-3)
    np.testing.assert_allclose(train["scale"][0], 1.2 * (pts.max(0) - pts.min(0)).max() / 200, rtol=1e-5)


def test_lsp_extended_visibility_row_kept(tmp_path):
    xy, visible = native.write_lsp_ext(str(tmp_path / "raw"), np.random.default_rng(1))
    _run(tmp_path / "raw", tmp_path / "out", "--datasets", "lsp_ext", "--bbox_margin", "1.5")
    data = _load(tmp_path / "out", "lsp_ext_train.npz")
    np.testing.assert_array_equal(data["part"][:, :14, 2], visible)
    np.testing.assert_allclose(data["part"][:, :14, :2], xy, atol=1e-4)            # invisible joints keep x, y
    assert data["imgname"][11].endswith("lsp_exd/images/im00012.jpg")
    pts = xy[3][visible[3] > 0]
    np.testing.assert_allclose(data["scale"][3], 1.5 * (pts.max(0) - pts.min(0)).max() / 200, rtol=1e-5)


def test_mpii_release_struct(tmp_path):
    truth = native.write_mpii(str(tmp_path / "raw"), np.random.default_rng(2))
    summary = _run(tmp_path / "raw", tmp_path / "out", "--datasets", "mpii")
    data = _load(tmp_path / "out", "mpii_train.npz")
    assert len(data["imgname"]) == 2 and summary[0]["dropped"] == {"no keypoints": 1}   # test image not used
    assert data["imgname"][0].endswith("mpii/images/000001163.jpg")
    slots = {name: J24_NAMES.index(name) for name in ("right_ankle", "left_hip", "pelvis", "thorax", "neck",
                                                       "head_top", "right_wrist", "left_wrist")}
    mpii_ids = {"right_ankle": 0, "left_hip": 3, "pelvis": 6, "thorax": 7, "neck": 8, "head_top": 9,
                "right_wrist": 10, "left_wrist": 15}
    for sample, (points, visible) in enumerate(truth):
        for name, slot in slots.items():
            j = mpii_ids[name]
            assert data["part"][sample, slot, 2] == visible[j], (sample, name)
            if visible[j]:
                np.testing.assert_allclose(data["part"][sample, slot, :2], points[j], atol=1e-4)
    assert data["part"][0, J24_NAMES.index("left_hip"), 2] == 0      # is_visible 0, its position kept
    np.testing.assert_allclose(data["part"][0, J24_NAMES.index("left_hip"), :2], truth[0][0][3], atol=1e-4)
    assert data["part"][0, J24_NAMES.index("thorax"), 2] == 1        # is_visible empty: annotated, visible
    assert data["part"][1, J24_NAMES.index("right_ankle"), 2] == 0   # absent point
    assert data["part"][1, J24_NAMES.index("right_shoulder"), 2] == 0  # is_visible "0" (a string)


def test_coco_joint_mapping_and_filters(tmp_path):
    kept = native.write_coco(str(tmp_path / "raw"), np.random.default_rng(3))
    summary = _run(tmp_path / "raw", tmp_path / "out", "--datasets", "coco")
    train = _load(tmp_path / "out", "coco_train.npz")
    assert len(train["imgname"]) == 1 and train["imgname"][0].endswith("coco2017/train2017/000000000010.jpg")
    assert summary[0]["dropped"] == {"box too small": 1, "crowd": 1, "too few keypoints": 1}
    kp = kept["train"][0]
    left_wrist = 9                                                   # COCO index
    assert J24_NAMES[11] == "left_wrist"
    np.testing.assert_allclose(train["part"][0, 11], [kp[left_wrist, 0], kp[left_wrist, 1], 1.0])
    coco_to_slot = {0: 19, 1: 20, 2: 21, 3: 22, 4: 23, 5: 9, 6: 8, 11: 3, 12: 2, 15: 5, 16: 0}
    for coco, slot in coco_to_slot.items():
        np.testing.assert_allclose(train["part"][0, slot, :2], kp[coco, :2])
    assert train["part"][0, J24_NAMES.index("neck"), 2] == 0 and train["part"][0, J24_NAMES.index("head_top"), 2] == 0
    val = _load(tmp_path / "out", "coco_val.npz")
    v = kept["val"][0]
    assert val["part"][0, 0, 2] == (v[16, 2] > 0) and val["part"][0, 19, 2] == 1     # right ankle hidden, nose seen


def test_h36m_splits_by_subject_and_protocol(tmp_path):
    names, (gt2d, gt3d_m) = native.write_h36m(str(tmp_path / "raw"), np.random.default_rng(4))
    _run(tmp_path / "raw", tmp_path / "out", "--datasets", "h36m")
    train = dict(np.load(tmp_path / "out" / "h36m_train.npz"))
    p1 = dict(np.load(tmp_path / "out" / "h36m_valid_protocol1.npz"))
    p2 = dict(np.load(tmp_path / "out" / "h36m_valid_protocol2.npz"))
    assert set(train["subject"]) == {"S1", "S5"} and len(train["imgname"]) == 32
    assert not any("S9" in n or "S11" in n for n in train["imgname"])
    assert set(p1["subject"]) == {"S9", "S11"} and len(p1["imgname"]) == 32
    assert set(p2["camera"]) == {"60457274"} and len(p2["imgname"]) == 8
    assert set(p1["action"]) == {"Directions", "WalkDog"}
    first_test = names.index(p1["imgname"][0].split("images")[-1])
    np.testing.assert_allclose(p1["S"][0, :14, :3], gt3d_m[first_test], atol=1e-5)    # millimetres -> metres
    np.testing.assert_allclose(train["S"][:, :14, 3], 1.0)
    np.testing.assert_allclose(train["part"][0, :14], gt2d[0], atol=1e-4)
    assert train["has_smpl"].min() == 1 and train["pose"].shape == (32, 72)
    load_dataset_npz(str(tmp_path / "out" / "h36m_train.npz"))         # schema-valid


def test_mpi_inf_3dhp_holds_out_s8(tmp_path):
    names, (_, gt3d_m) = native.write_mpi_inf_3dhp(str(tmp_path / "raw"), np.random.default_rng(5))
    _run(tmp_path / "raw", tmp_path / "out", "--datasets", "mpi_inf_3dhp")
    train = dict(np.load(tmp_path / "out" / "mpi_inf_3dhp_train.npz"))
    val = dict(np.load(tmp_path / "out" / "mpi_inf_3dhp_val.npz"))
    assert "S8" not in set(train["subject"]) and set(val["subject"]) == {"S8"}
    assert len(train["imgname"]) == 28 and "pose" not in train            # no SMPL fits in this file
    np.testing.assert_allclose(train["S"][:, :14, :3], gt3d_m[:28], atol=1e-5)  # already metres
    assert not (tmp_path / "out" / "mpi_inf_3dhp_test.npz").exists()       # no TS sequences: nothing written
    assert load_dataset_npz(str(tmp_path / "out" / "mpi_inf_3dhp_train.npz"))["has_smpl"].max() == 0


def test_mocap_never_holds_test_subjects(tmp_path):
    rng = np.random.default_rng(6)
    native.write_h36m(str(tmp_path / "raw"), rng)
    native.write_mosh(str(tmp_path / "raw"), rng)
    summary = _run(tmp_path / "raw", tmp_path / "out", "--datasets", "mocap")
    mocap = load_mocap_npz(str(tmp_path / "out" / "mocap.npz"))
    raw = np.load(tmp_path / "raw" / "mosh" / "h36m_mosh.npz")
    # CMU 7 + H36M-mosh S1, S5 + annot.h5 S1, S5 (32 frames)
    assert len(mocap["pose"]) == 7 + 2 + 32
    for i, subject in enumerate(raw["subject"]):
        present = np.any(np.all(np.isclose(mocap["pose"], raw["pose"][i]), axis=1))
        assert present == (subject in ("S1", "S5")), subject
    assert summary[0]["dropped"] == {"h36m subject S11 not a training subject": 16,
                                     "h36m subject S9 not a training subject": 16,
                                     "test subject S11": 1, "test subject S9": 1}


def test_all_found_datasets_and_spin_npz_as_is(tmp_path):
    rng = np.random.default_rng(7)
    raw = tmp_path / "raw"
    native.write_lsp_ext(str(raw), rng, folder_name="lsp_ext")
    native.write_coco(str(raw), rng)
    (raw / "dataset_extras").mkdir()
    np.savez(raw / "dataset_extras" / "lsp_dataset_original_train.npz", imgname=np.array(["images/im0001.jpg"]),
             center=np.ones((1, 2)), scale=np.ones(1), part=np.zeros((1, 24, 3)))
    summary = _run(raw, tmp_path / "out")
    names = sorted(s["name"] for s in summary)
    assert names == ["coco_train", "coco_val", "lsp_dataset_original_train.npz", "lsp_ext_train"]
    assert (tmp_path / "out" / "datasets.json").is_file()


def test_missing_and_malformed_inputs_name_the_file(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    with pytest.raises(UserInputError, match=r"LSP: folder not found; expected .*raw/lsp"):
        _run(raw, tmp_path / "out", "--datasets", "lsp")
    (raw / "lsp").mkdir()
    import scipy.io
    scipy.io.savemat(raw / "lsp" / "joints.mat", {"joints": np.zeros((14, 3, 5))})
    with pytest.raises(UserInputError, match=r"joints.mat: field 'joints' has shape \(14, 3, 5\), expected \(3, 14, 'N'\)"):
        _run(raw, tmp_path / "out", "--datasets", "lsp")
    (raw / "human3.6m").mkdir()
    with pytest.raises(UserInputError, match=r"Human3.6M: file not found; expected .*annot.h5, .*annots.npz"):
        _run(raw, tmp_path / "out", "--datasets", "h36m")
    import h5py
    with h5py.File(raw / "human3.6m" / "annot.h5", "w") as handle:
        handle.create_dataset("gt2d", data=np.zeros((2, 14, 3)))
        handle.create_dataset("gt3d", data=np.zeros((2, 17, 3)))
        handle.create_dataset("imagename", data=np.array([b"S1_a.jpg", b"S1_b.jpg"]))
    with pytest.raises(UserInputError, match=r"annot.h5: field 'gt3d' has shape \(2, 17, 3\), expected \(2, 14, 3\)"):
        _run(raw, tmp_path / "out", "--datasets", "h36m")
    (raw / "coco2017" / "annotations").mkdir(parents=True)
    (raw / "coco2017" / "annotations" / "person_keypoints_train2017.json").write_text('{"images": []}')
    with pytest.raises(UserInputError, match=r"person_keypoints_train2017.json: field 'annotations' missing"):
        _run(raw, tmp_path / "out", "--datasets", "coco")


def test_entry_point_prints_one_line(tmp_path):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "dataprocess.py"), "--data_path", str(tmp_path),
                             "--output_path", str(tmp_path / "out"), "--datasets", "lsp,nope"],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [                  # config.yaml declares the choices
        "error: command line: key 'datasets' must be one of lsp, lsp_ext, mpii, coco, h36m, mpi_inf_3dhp, mocap, "
        "spin; got 'nope'"]
