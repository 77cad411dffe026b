"""Evaluation protocols: joint sets, pelvis rule, SMPL ground truth (gendered), breakdown labels."""
import numpy as np
import pytest

from model_utils.errors import UserInputError
from src.evaluation.protocols import get_protocol, group_labels
from src.evaluation.evaluate import GroundTruthMeshes, run_evaluation

# SPIN's mappings, written out from HMR_FACTS (not the project's constants): its H36M / 3DHP
# files hold the H36M head in J24 slot 18 and never fill slot 13.
SPIN_H36M_TO_J17 = [6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10, 0, 7, 9]
SPIN_J24_TO_J17 = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 18, 14, 16, 17]
SPIN_H36M_TO_J14 = SPIN_H36M_TO_J17[:14]
J24_PELVIS_SLOT, J24_HEAD_SLOT, LSP_HEAD_TOP_SLOT = 14, 18, 13


@pytest.fixture(scope="module")
def smpl(body_model_dir):
    from HMR import SMPL
    return SMPL(str(body_model_dir / "neutral_smpl_with_cocoplus_reg.pkl"),
                extra_regressors={"h36m": str(body_model_dir / "J_regressor_h36m.npy")})


def _meshes(smpl, seed, count=6):
    import mindspore as ms
    rng = np.random.default_rng(seed)
    pose = rng.normal(0, 0.3, (count, 72)).astype(np.float32)
    betas = rng.normal(0, 1, (count, 10)).astype(np.float32)
    vertices, joints = smpl(ms.Tensor(betas), ms.Tensor(pose))
    return pose, betas, vertices.asnumpy(), smpl.regress(vertices, "cocoplus").asnumpy()


def _labels_from_mesh(smpl, vertices, with_pelvis=True):
    """J24 labels as SPIN's Human3.6M files hold them: H36M joints in LSP slots 0-12, the head in 18,
    pelvis, spine and jaw in 14, 16, 17; slot 13 empty."""
    h36m = np.einsum("kv,bvc->bkc", smpl.regressor("h36m").asnumpy(), vertices)
    S = np.zeros((len(vertices), 24, 4))
    S[:, SPIN_J24_TO_J17, :3] = h36m[:, SPIN_H36M_TO_J17]
    S[:, SPIN_J24_TO_J17, 3] = 1
    if not with_pelvis:
        S[:, J24_PELVIS_SLOT, 3] = 0
    return S


def _lsp_labels_from_mesh(smpl, vertices):
    """J24 labels of a file converted from LSP-14 ground truth: cocoplus joints 0-13 (head top in 13)."""
    S = np.zeros((len(vertices), 24, 4))
    S[:, :14, :3] = np.einsum("kv,bvc->bkc", smpl.regressor("cocoplus").asnumpy()[:14], vertices)
    S[:, :14, 3] = 1
    return S


def _data(S=None, pose=None, betas=None, names=None, **extra):
    n = len(S if S is not None else pose)
    data = {"imgname": np.array(names or [f"S9_Walking_1.54138969_{i:06d}.jpg" for i in range(n)]),
            "S": S if S is not None else np.zeros((n, 24, 4)), "pose": pose if pose is not None else np.zeros((n, 72)),
            "shape": betas if betas is not None else np.zeros((n, 10)), "has_smpl": np.ones(n)}
    data.update(extra)
    return data


def _batches(vertices, joints, shift=(0.0, 0.0, 0.0)):
    n = len(vertices)
    yield np.arange(n), vertices + np.asarray(shift), joints + np.asarray(shift), np.ones(n)


@pytest.mark.parametrize("protocol, joint_set", [("h36m-p1", "h36m14"), ("mpi-inf-3dhp", "h36m17")])
def test_exact_prediction_scores_zero_whatever_the_translation(smpl, protocol, joint_set):
    _, _, vertices, cocoplus = _meshes(smpl, 0)
    summary = run_evaluation(get_protocol(protocol), _batches(vertices, cocoplus, (0.3, -0.2, 4.0)),
                             _data(_labels_from_mesh(smpl, vertices)), smpl)
    assert summary["joint_set"] == joint_set and summary["num_samples"] == 6
    assert summary["mpjpe"] < 1e-3 and summary["pa_mpjpe"] < 1e-3
    if protocol == "mpi-inf-3dhp":
        assert summary["pck"] == 1.0 and summary["auc"] > 0.95


def test_pelvis_rule_and_a_wrong_pose(smpl):
    _, _, vertices, cocoplus = _meshes(smpl, 1)
    _, _, other, other_cocoplus = _meshes(smpl, 2)
    labels = _labels_from_mesh(smpl, vertices, with_pelvis=False)        # mid-hip on both sides then
    same = run_evaluation(get_protocol("h36m-p2"), _batches(vertices, cocoplus), _data(labels), smpl)
    assert same["mpjpe"] < 1e-3
    wrong = run_evaluation(get_protocol("h36m-p2"), _batches(other, other_cocoplus), _data(labels), smpl)
    assert wrong["mpjpe"] > 20 and wrong["pa_mpjpe"] < wrong["mpjpe"]
    # by hand for one sample: 14 joints, roots subtracted, mean distance in mm
    h36m = smpl.regressor("h36m").asnumpy()
    p, g = (h36m @ other[0])[SPIN_H36M_TO_J14], (h36m @ vertices[0])[SPIN_H36M_TO_J14]
    p, g = p - p[2:4].mean(0), g - g[2:4].mean(0)
    first = run_evaluation(get_protocol("h36m-p2"), _batches(other[:1], other_cocoplus[:1]), _data(labels[:1]), smpl)
    assert first["mpjpe"] == pytest.approx(np.linalg.norm(p - g, axis=1).mean() * 1000, rel=1e-6)


@pytest.mark.parametrize("protocol", ["h36m-p2", "mpi-inf-3dhp"])
def test_the_h36m_head_in_slot_18_counts(smpl, protocol):
    """Moving the labelled head (slot 18) 0.5 m costs one joint's 500 mm: 500/14 or 500/17 mm of MPJPE."""
    _, _, vertices, cocoplus = _meshes(smpl, 5)
    labels = _labels_from_mesh(smpl, vertices)
    labels[:, J24_HEAD_SLOT, 0] += 0.5
    summary = run_evaluation(get_protocol(protocol), _batches(vertices, cocoplus), _data(labels), smpl)
    joints = 17 if protocol == "mpi-inf-3dhp" else 14
    assert summary["mpjpe"] == pytest.approx(500.0 / joints, rel=1e-4)
    assert summary["label_slots"][13] == J24_HEAD_SLOT and LSP_HEAD_TOP_SLOT not in summary["label_slots"]


def test_lsp14_labels_are_evaluated_with_the_lsp_joints(smpl):
    """Files converted from LSP-14 labels (head top in slot 13, no slot 18) pick lsp14 even though the
    model has J_regressor_h36m; asking for SPIN's set on them is an error."""
    _, _, vertices, cocoplus = _meshes(smpl, 6)
    labels = _lsp_labels_from_mesh(smpl, vertices)
    summary = run_evaluation(get_protocol("h36m-p1"), _batches(vertices, cocoplus, (0.1, 0.2, 3.0)), _data(labels),
                             smpl)
    assert summary["joint_set"] == "lsp14" and summary["label_slots"] == list(range(14))
    assert summary["mpjpe"] < 1e-3
    labels[:, LSP_HEAD_TOP_SLOT, 1] -= 0.5
    moved = run_evaluation(get_protocol("h36m-p1"), _batches(vertices, cocoplus), _data(labels), smpl)
    assert moved["mpjpe"] == pytest.approx(500.0 / 14, rel=1e-4)
    with pytest.raises(UserInputError, match="no H36M head"):
        run_evaluation(get_protocol("h36m-p1"), _batches(vertices, cocoplus), _data(labels), smpl, "h36m14")


def test_3dpw_meshes_use_the_gendered_models(smpl, body_model_dir, tmp_path):
    from HMR import SMPL
    from src.data.synthetic.write_model import write_body_model
    other = SMPL(write_body_model(str(tmp_path), seed=3))            # a different body stands for 'male'
    pose, betas, neutral_vertices, _ = _meshes(smpl, 4)
    genders = np.array(["m", "f", "m", "f", "m", "f"])
    male_vertices, _ = GroundTruthMeshes(other)(pose, betas)
    truth_vertices = np.where((genders == "m")[:, None, None], male_vertices, neutral_vertices)
    truth_cocoplus = np.einsum("kv,bvc->bkc", smpl.regressor("cocoplus").asnumpy(), truth_vertices)
    data = _data(pose=pose, betas=betas, gender=genders,
                 names=[f"imageFiles/downtown_bus_0{i % 2}/image_00000.jpg" for i in range(6)])
    meshes = GroundTruthMeshes(smpl, {"male": other})
    summary = run_evaluation(get_protocol("3dpw"), _batches(truth_vertices, truth_cocoplus), data, smpl,
                             gt_meshes=meshes)
    assert summary["pve"] < 1e-3 and summary["mpjpe"] < 1e-3
    assert set(summary["breakdown"]["sequence"]) == {"downtown_bus_00", "downtown_bus_01"}
    neutral_only = run_evaluation(get_protocol("3dpw"), _batches(truth_vertices, truth_cocoplus), data, smpl)
    assert neutral_only["pve"] > 1.0                                   # the male samples now differ


def test_breakdown_labels_from_image_names():
    h36m = get_protocol("h36m-p1")
    names = np.array(["S9_Directions_1.54138969_000001.jpg", "S11/S11_WalkDog_1.60457274_000006.jpg",
                      "S9_SittingDown.55011271_000011.jpg"])
    assert group_labels(h36m, {"imgname": names}, np.arange(3)).tolist() == ["Directions", "WalkDog", "SittingDown"]
    assert group_labels(h36m, {"imgname": names, "action": np.array(["a", "b", "c"])}, [2]).tolist() == ["c"]
    hp = get_protocol("mpi-inf-3dhp")
    assert group_labels(hp, {"imgname": np.array(["mpi_inf_3dhp_test_set/TS3/imageSequence/img_000001.jpg"])},
                        [0]).tolist() == ["TS3"]


def test_pve_on_meshes_centred_on_the_smpl_root(smpl, body_model_pkl):
    """``pve_root="smpl_root"`` (3DCrowdNet's 3DPW evaluation): both meshes centred on row 0 of SMPL's own joint
    regressor, read here from the model file with pickle; a mesh that differs from the truth only by a translation
    scores 0 that way, while the pelvis-centred PVE counts how far the deformed pelvis moved."""
    import pickle
    with open(body_model_pkl, "rb") as handle:
        regressor = pickle.load(handle, encoding="latin1")["J_regressor"]          # scipy sparse, as in SMPL's files
    root_row = np.asarray(regressor.toarray() if hasattr(regressor, "toarray") else regressor, np.float64)[0]
    pose, betas, truth_vertices, _ = _meshes(smpl, 6, count=4)
    rng = np.random.default_rng(7)
    predicted = truth_vertices + rng.normal(0, 0.01, truth_vertices.shape)          # 1 cm noise per coordinate
    predicted_cocoplus = np.einsum("kv,bvc->bkc", smpl.regressor("cocoplus").asnumpy(), predicted)
    data = _data(pose=pose, betas=betas, names=[f"imageFiles/courtyard_hug_00/image_{i:05d}.jpg" for i in range(4)])
    got = run_evaluation(get_protocol("3dpw"), _batches(predicted, predicted_cocoplus, shift=(0.3, -0.2, 1.0)), data,
                         smpl, pve_root="smpl_root")
    gt_vertices, _ = GroundTruthMeshes(smpl)(pose, betas)
    centre = lambda v: v - np.einsum("v,bvc->bc", root_row, v)[:, None]               # noqa: E731
    want = np.linalg.norm(centre(predicted + [0.3, -0.2, 1.0]) - centre(gt_vertices.astype(np.float64)), axis=-1)
    assert got["pve"] == pytest.approx(1000.0 * want.mean(), rel=1e-5)
    pelvis_centred = run_evaluation(get_protocol("3dpw"), _batches(predicted, predicted_cocoplus), data, smpl)
    assert pelvis_centred["mpjpe"] == pytest.approx(got["mpjpe"]) and pelvis_centred["pve"] != pytest.approx(got["pve"])
