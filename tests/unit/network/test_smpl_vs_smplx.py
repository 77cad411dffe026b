"""The SMPL layer against the smplx package (PyTorch) on the same model file."""
import numpy as np
import pytest

import mindspore as ms
from HMR import SMPL

torch = pytest.importorskip("torch")
smplx = pytest.importorskip("smplx")

TOLERANCE = 2e-5    # model units (metres)


@pytest.fixture(scope="module")
def reference(body_model_pkl):
    return smplx.SMPL(body_model_pkl)


@pytest.fixture(scope="module")
def model_files(body_model_pkl, body_model_arrays, tmp_path_factory):
    """The same body model in the three accepted formats."""
    from fabricate.chumpy_pickle import write_chumpy_smpl_pickle
    from src.data.synthetic.write_model import write_body_model_npz
    folder = tmp_path_factory.mktemp("flavours")
    return {
        "pickle": body_model_pkl,
        "chumpy": write_chumpy_smpl_pickle(str(folder / "chumpy_smpl.pkl"), body_model_arrays),
        "npz": write_body_model_npz(str(folder / "smpl.npz"), body_model_arrays),
    }


@pytest.fixture(params=["pynative", "graph"])
def mode(request):
    ms.set_context(mode=ms.PYNATIVE_MODE if request.param == "pynative" else ms.GRAPH_MODE)
    yield request.param
    ms.set_context(mode=ms.PYNATIVE_MODE)


def _inputs(batch, seed):
    """Random betas and poses, with rotations of exactly zero and pi included."""
    rng = np.random.default_rng(seed)
    betas = rng.normal(0.0, 1.5, (batch, 10)).astype(np.float32)
    pose = rng.normal(0.0, 0.7, (batch, 72)).astype(np.float32)
    pose[0] = 0.0
    if batch > 2:
        pose[1, 0:3] = [np.pi, 0.0, 0.0]
        pose[1, 3 * 4:3 * 5] = [0.0, np.pi, 0.0]
        pose[2, 3 * 18:3 * 19] = [0.0, 0.0, -np.pi]
        betas[2] = 0.0
    return betas, pose


def _smplx_forward(reference, betas, pose):
    with torch.no_grad():
        out = reference(betas=torch.from_numpy(betas), global_orient=torch.from_numpy(pose[:, :3]),
                        body_pose=torch.from_numpy(pose[:, 3:]))
    return out.vertices.numpy(), out.joints.numpy()[:, :24]


@pytest.mark.parametrize("flavour", ["pickle", "chumpy", "npz"])
@pytest.mark.parametrize("batch", [1, 64])
def test_matches_smplx(mode, flavour, batch, model_files, reference):
    betas, pose = _inputs(batch, seed=batch)
    smpl = SMPL(model_files[flavour])
    vertices, joints = smpl(ms.Tensor(betas), ms.Tensor(pose))
    ref_vertices, ref_joints = _smplx_forward(reference, betas, pose)
    assert vertices.shape == (batch, 6890, 3) and joints.shape == (batch, 24, 3)
    assert vertices.dtype == ms.float32 and joints.dtype == ms.float32
    assert np.abs(vertices.asnumpy() - ref_vertices).max() <= TOLERANCE
    assert np.abs(joints.asnumpy() - ref_joints).max() <= TOLERANCE


def test_rotation_matrix_input_equals_axis_angle(mode, body_model_pkl):
    from scipy.spatial.transform import Rotation
    betas, pose = _inputs(5, seed=7)
    rotmats = Rotation.from_rotvec(pose.reshape(-1, 3).astype(np.float64)).as_matrix()
    smpl = SMPL(body_model_pkl)
    v_aa, j_aa = smpl(ms.Tensor(betas), ms.Tensor(pose))
    v_rm, j_rm = smpl(ms.Tensor(betas), ms.Tensor(rotmats.reshape(5, 24, 3, 3).astype(np.float32)))
    np.testing.assert_allclose(v_rm.asnumpy(), v_aa.asnumpy(), atol=TOLERANCE)
    np.testing.assert_allclose(j_rm.asnumpy(), j_aa.asnumpy(), atol=TOLERANCE)


def test_gradients_match_smplx(mode, body_model_pkl, reference):
    """d(sum of squared vertices and joints)/d(betas, pose) against torch autograd."""
    betas, pose = _inputs(3, seed=11)
    smpl = SMPL(body_model_pkl)

    def objective(b, p):
        vertices, joints = smpl(b, p)
        return (vertices ** 2).sum() + (joints ** 2).sum()

    grad_b, grad_p = ms.grad(objective, grad_position=(0, 1))(ms.Tensor(betas), ms.Tensor(pose))
    tb = torch.tensor(betas, requires_grad=True)
    tp = torch.tensor(pose, requires_grad=True)
    out = reference(betas=tb, global_orient=tp[:, :3], body_pose=tp[:, 3:])
    ((out.vertices ** 2).sum() + (out.joints[:, :24] ** 2).sum()).backward()
    np.testing.assert_allclose(grad_b.asnumpy(), tb.grad.numpy(), rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(grad_p.asnumpy(), tp.grad.numpy(), rtol=2e-3, atol=2e-3)


def test_constants_are_not_parameters(body_model_pkl):
    smpl = SMPL(body_model_pkl)
    assert list(smpl.get_parameters()) == []
    assert smpl.parameters_dict() == {}


def test_cocoplus_and_extra_regressors(body_model_pkl, body_model_dir, body_model_arrays):
    smpl = SMPL(body_model_pkl, extra_regressors={"h36m": str(body_model_dir / "J_regressor_h36m.npy")})
    assert smpl.regressor_names == ("cocoplus", "h36m")
    betas, pose = _inputs(2, seed=3)
    vertices, _ = smpl(ms.Tensor(betas), ms.Tensor(pose))
    v = vertices.asnumpy().astype(np.float64)
    for name, key, rows in (("cocoplus", "cocoplus_regressor", 19), ("h36m", "J_regressor_h36m", 17)):
        got = smpl.regress(vertices, name).asnumpy()
        assert got.shape == (2, rows, 3)
        np.testing.assert_allclose(got, np.einsum("kv,bvc->bkc", body_model_arrays[key], v), atol=1e-5)
    with pytest.raises(KeyError, match="no joint regressor 'mpii'"):
        smpl.regress(vertices, "mpii")


def test_regressor_folded_into_the_skinning_gives_the_regressed_smplx_vertices(mode, body_model_pkl, reference,
                                                                                body_model_arrays):
    """regressed_joints (no vertex posed; used by the refinement) == cocoplus regressor @ smplx vertices."""
    from HMR.geometry import batch_rodrigues
    from HMR.smpl.lbs import regressed_joint_mixing, regressed_joints, rest_joints, rigid_chain
    smpl = SMPL(body_model_pkl)
    mixing = regressed_joint_mixing(body_model_arrays["cocoplus_regressor"], smpl.template.asnumpy(),
                                    smpl.blend_dirs.asnumpy(), smpl.weights_t.asnumpy())
    betas, pose = _inputs(4, seed=5)
    rotmats = batch_rodrigues(ms.Tensor(pose).reshape(-1, 3)).reshape(-1, 24, 3, 3)
    _, transforms = rigid_chain(rotmats, rest_joints(ms.Tensor(betas), smpl.joint_template, smpl.joint_dirs),
                                smpl.parents, smpl.levels)
    got = regressed_joints(ms.Tensor(betas), rotmats, transforms, ms.Tensor(mixing["mixing_dirs"]),
                           ms.Tensor(mixing["mixing_template"])).asnumpy()
    vertices, _ = _smplx_forward(reference, betas, pose)
    want = np.einsum("kv,bvc->bkc", body_model_arrays["cocoplus_regressor"], vertices.astype(np.float64))
    np.testing.assert_allclose(got, want, atol=TOLERANCE)


def test_arrays_of_any_length_run_in_fixed_chunks(body_model_pkl, reference):
    """run_numpy: 11 rows in chunks of 4 (the last chunk padded) give smplx's meshes, row for row, and
    the layer is called with one shape only."""
    ms.set_context(mode=ms.GRAPH_MODE)
    smpl = SMPL(body_model_pkl)
    betas, pose = _inputs(11, seed=5)
    shapes = []
    call = SMPL.__call__

    def recording(layer, *args):
        shapes.append(tuple(args[1].shape))
        return call(layer, *args)
    try:
        SMPL.__call__ = recording
        vertices, joints = smpl.run_numpy(betas, pose, chunk=4)
    finally:
        SMPL.__call__ = call
        ms.set_context(mode=ms.PYNATIVE_MODE)
    assert shapes == [(4, 72)] * 3
    ref_vertices, ref_joints = _smplx_forward(reference, betas, pose)
    assert vertices.shape == ref_vertices.shape and joints.shape == ref_joints.shape
    np.testing.assert_allclose(vertices, ref_vertices, atol=TOLERANCE)
    np.testing.assert_allclose(joints, ref_joints, atol=TOLERANCE)
