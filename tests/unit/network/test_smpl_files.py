"""Body-model files: what loads, and the errors for what does not."""
import pickle

import numpy as np
import pytest

from HMR.smpl.layer import SMPL, SMPLModelError, load_joint_regressor, load_smpl_model


def test_loads_official_keys_and_labels(body_model_pkl):
    model = load_smpl_model(body_model_pkl)
    assert model["v_template"].shape == (6890, 3)
    assert model["shapedirs"].shape == (6890, 3, 10)
    assert model["posedirs"].shape == (6890, 3, 207)
    assert model["J_regressor"].shape == (24, 6890)
    assert model["cocoplus_regressor"].shape == (19, 6890)
    assert model["faces"].shape == (13776, 3)
    assert model["parents"][0] == -1 and list(model["parents"][1:4]) == [0, 0, 0]
    assert model["synthetic"] is True


def test_chumpy_file_loads_without_chumpy(tmp_path, body_model_arrays):
    import sys
    from fabricate.chumpy_pickle import write_chumpy_smpl_pickle
    path = write_chumpy_smpl_pickle(str(tmp_path / "ch.pkl"), body_model_arrays)
    raw = open(path, "rb").read()
    assert b"chumpy.ch" in raw and b"scipy.sparse.csc" in raw
    with pytest.raises(ModuleNotFoundError):
        pickle.loads(raw, encoding="latin1")           # what a plain loader does with such files
    model = load_smpl_model(path)
    assert "chumpy" not in sys.modules
    np.testing.assert_array_equal(model["shapedirs"], body_model_arrays["shapedirs"])
    np.testing.assert_array_equal(model["J_regressor"], body_model_arrays["J_regressor"])


def test_missing_file_names_the_path(tmp_path):
    path = str(tmp_path / "nope.pkl")
    with pytest.raises(SMPLModelError, match="not found: .*nope.pkl"):
        SMPL(path)


def test_truncated_pickle(tmp_path, body_model_pkl):
    data = open(body_model_pkl, "rb").read()
    path = tmp_path / "truncated.pkl"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(SMPLModelError, match=r"truncated.pkl: not a readable SMPL pickle .*truncated"):
        load_smpl_model(str(path))


def test_not_a_pickle(tmp_path):
    path = tmp_path / "image.pkl"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(SMPLModelError, match="image.pkl: not a readable SMPL pickle"):
        load_smpl_model(str(path))


def test_pickle_without_smpl_keys(tmp_path):
    path = tmp_path / "other.pkl"
    path.write_bytes(pickle.dumps({"weights": np.zeros(3), "model": "resnet"}))
    with pytest.raises(SMPLModelError, match=r"other.pkl: not an SMPL model, missing key\(s\) \['v_template'"):
        load_smpl_model(str(path))


def test_pickle_of_a_list(tmp_path):
    path = tmp_path / "list.pkl"
    path.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(SMPLModelError, match="list.pkl: expected a pickled dict"):
        load_smpl_model(str(path))


def test_wrong_shape_names_the_key(tmp_path, body_model_arrays):
    bad = dict(body_model_arrays)
    bad["posedirs"] = bad["posedirs"][:, :, :100]
    path = tmp_path / "bad.pkl"
    path.write_bytes(pickle.dumps(bad))
    with pytest.raises(SMPLModelError, match=r"bad.pkl: key 'posedirs' has shape \(6890, 3, 100\), expected \(6890, 3, 207\)"):
        load_smpl_model(str(path))


def test_npz_with_object_array(tmp_path, body_model_arrays):
    path = tmp_path / "obj.npz"
    np.savez(path, **{k: body_model_arrays[k] for k in ("v_template", "shapedirs", "posedirs", "weights", "kintree_table", "f")},
             J_regressor=np.array([None], dtype=object))
    with pytest.raises(SMPLModelError, match="obj.npz: not a readable npz"):
        load_smpl_model(str(path))


def test_regressor_file_errors(tmp_path):
    with pytest.raises(SMPLModelError, match="joint regressor file not found"):
        load_joint_regressor(str(tmp_path / "none.npy"), 6890)
    path = tmp_path / "J_regressor_h36m.npy"
    np.save(path, np.zeros((17, 100)))
    with pytest.raises(SMPLModelError, match=r"J_regressor_h36m.npy: regressor has shape \(17, 100\), expected \(K, 6890\)"):
        load_joint_regressor(str(path), 6890)
