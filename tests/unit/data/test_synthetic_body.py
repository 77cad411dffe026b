"""The embedded default body model: SMPL's format, a closed body of human proportions."""
import numpy as np
import pytest

from HMR.constants import SMPL_JOINT_NAMES
from src.data.synthetic.body_model import build_body_model


def _joint(model, name):
    return model["J"][SMPL_JOINT_NAMES.index(name)]


def test_official_shapes(body_model_arrays):
    m = body_model_arrays
    assert m["v_template"].shape == (6890, 3) and m["f"].shape == (13776, 3)
    assert m["shapedirs"].shape == (6890, 3, 10) and m["posedirs"].shape == (6890, 3, 207)
    assert m["J_regressor"].shape == (24, 6890) and m["weights"].shape == (6890, 24)
    assert m["kintree_table"].shape == (2, 24) and m["kintree_table"][0, 0] == 4294967295
    assert m["cocoplus_regressor"].shape == (19, 6890) and m["J_regressor_h36m"].shape == (17, 6890)
    assert m["synthetic"] is True and "SYNTHETIC" in m["description"]


def test_closed_oriented_genus_zero_surface(body_model_arrays):
    faces = body_model_arrays["f"].astype(np.int64)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    directed = {tuple(e) for e in edges.tolist()}
    assert len(directed) == len(edges), "a directed edge is used twice: orientation is inconsistent"
    assert all((b, a) in directed for a, b in directed), "an edge has no twin: the surface has a hole"
    num_edges = len(edges) // 2
    assert 6890 - num_edges + len(faces) == 2            # Euler characteristic of a sphere
    assert len(np.unique(faces)) == 6890                  # every vertex is used
    v = body_model_arrays["v_template"]
    volume = np.einsum("ij,ij->i", v[faces[:, 0]], np.cross(v[faces[:, 1]], v[faces[:, 2]])).sum() / 6
    assert 0.03 < volume < 0.12                           # outward normals; 30-120 litres


def test_human_proportions(body_model_arrays):
    m = body_model_arrays
    v = m["v_template"]
    assert 1.55 < v[:, 1].max() - v[:, 1].min() < 1.95     # height, metres
    assert 1.5 < v[:, 0].max() - v[:, 0].min() < 1.95      # T-pose arm span
    for name in ("hip", "knee", "ankle", "shoulder", "elbow", "wrist"):
        left, right = _joint(m, "left_" + name), _joint(m, "right_" + name)
        assert left[0] > 0.05 and np.allclose(left * [-1, 1, 1], right, atol=1e-6)   # left is +x, mirrored
    assert _joint(m, "head")[1] > _joint(m, "neck")[1] > _joint(m, "spine3")[1] > _joint(m, "pelvis")[1]
    assert _joint(m, "pelvis")[1] > _joint(m, "left_knee")[1] > _joint(m, "left_ankle")[1]
    assert _joint(m, "left_foot")[2] > _joint(m, "left_ankle")[2]                   # feet point forward


def test_regressors_and_weights_are_convex(body_model_arrays):
    m = body_model_arrays
    for key in ("J_regressor", "cocoplus_regressor", "J_regressor_h36m", "weights"):
        matrix = m[key]
        assert matrix.min() >= 0, key
        np.testing.assert_allclose(matrix.sum(1), 1.0, atol=1e-9, err_msg=key)
    assert (m["weights"] > 0).sum(1).max() <= 4


def test_shape_directions_change_height_and_girth(body_model_arrays):
    m = body_model_arrays
    v, dirs = m["v_template"], m["shapedirs"]

    def height(beta):
        shaped = v + dirs @ beta
        return shaped[:, 1].max() - shaped[:, 1].min()

    def girth(beta):
        shaped = v + dirs @ beta
        waist = np.abs(shaped[:, 1] + 0.05) < 0.02
        return np.ptp(shaped[waist, 2])

    beta = np.zeros(10)
    beta[0] = 2.0
    assert height(beta) - height(np.zeros(10)) > 0.1        # +2 sd stature: > 10 cm taller
    beta = np.zeros(10)
    beta[1] = 2.0
    assert girth(beta) > girth(np.zeros(10)) * 1.1
    assert np.linalg.matrix_rank(dirs.reshape(-1, 10)) == 10


def test_deterministic_from_seed(body_model_arrays):
    again = build_body_model(seed=0)
    for key in ("v_template", "posedirs", "J_regressor", "weights", "f"):
        np.testing.assert_array_equal(again[key], body_model_arrays[key])
    other = build_body_model(seed=1)
    assert not np.allclose(other["posedirs"], body_model_arrays["posedirs"])


def test_loads_in_smplx(body_model_pkl):
    torch = pytest.importorskip("torch")
    smplx = pytest.importorskip("smplx")
    model = smplx.SMPL(body_model_pkl)
    out = model(betas=torch.zeros(1, 10))
    assert out.vertices.shape == (1, 6890, 3)
