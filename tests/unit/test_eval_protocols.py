"""Evaluation protocols: joint sets, pelvis rule, SMPL ground truth (gendered), breakdown labels."""
import numpy as np
import pytest

from HMR.constants import H36M_TO_J14, J24_PELVIS, J24_TO_J17, H36M_TO_J17
from src.eval_protocols import get_protocol, group_labels
from src.evaluate import GroundTruthMeshes, run_evaluation


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
    """J24 labels as SPIN's Human3.6M files hold them: H36M joints in LSP slots (+ pelvis, spine, jaw)."""
    h36m = np.einsum("kv,bvc->bkc", smpl.regressor("h36m").asnumpy(), vertices)
    S = np.zeros((len(vertices), 24, 4))
    S[:, list(J24_TO_J17), :3] = h36m[:, list(H36M_TO_J17)]
    S[:, list(J24_TO_J17), 3] = 1
    if not with_pelvis:
        S[:, J24_PELVIS, 3] = 0
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
    p, g = (h36m @ other[0])[list(H36M_TO_J14)], (h36m @ vertices[0])[list(H36M_TO_J14)]
    p, g = p - p[2:4].mean(0), g - g[2:4].mean(0)
    first = run_evaluation(get_protocol("h36m-p2"), _batches(other[:1], other_cocoplus[:1]), _data(labels[:1]), smpl)
    assert first["mpjpe"] == pytest.approx(np.linalg.norm(p - g, axis=1).mean() * 1000, rel=1e-6)


def test_3dpw_meshes_use_the_gendered_models(smpl, body_model_dir, tmp_path):
    from HMR import SMPL
    from src.synthetic.write_model import write_body_model
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
