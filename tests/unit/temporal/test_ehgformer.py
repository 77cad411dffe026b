"""EHGFormer's refine module: its skeleton graph, its 6D pair, and converted releases of both joint-label files
against the PyTorch mirror (``tests/reference/torch_ehgformer.py``) through the checkpoint and the exported
graphs, at the released size."""
import numpy as np
import pytest
import torch

import mindspore as ms

SIZES = ((1, 16), (3, 43))            # (N, T): EHGFormer's clip and a length it was not exported at


def _inputs(n, t, seed=0):
    rng = np.random.default_rng(seed + 100 * n + t)
    pose2d = rng.uniform(-1.0, 1.0, (n, t, 17, 3)).astype(np.float32)
    pose2d[..., 2] = rng.uniform(0.0, 1.0, (n, t, 17))
    return [pose2d, rng.normal(0, 0.5, (n, t, 72)).astype(np.float32), rng.normal(0, 1, (n, t, 10)).astype(np.float32)]


def _assert_relative(got, want, tolerance=1e-4):
    for name, g, w in zip(("rot_mat", "shape", "vertices", "keypoint_3d"), got, want):
        assert g.shape == w.shape, name
        error = np.abs(g - w).max() / np.abs(w).max()
        assert error < tolerance, f"{name}: relative error {error:.2e}"


def test_skeleton_graph_is_the_originals_with_its_pelvis_to_wrist_edge():
    """Against a replay of graph/graph.py (hop distances, A D^-1), and by hand: the pelvis column holds 1/5
    on itself, both hips, the spine and - from the root's parent -1 - the right wrist."""
    from HMR.temporal.ehgformer_backbone import skeleton_adjacency
    from tests.reference.torch_ehgformer import uniform_graph
    ours = skeleton_adjacency()
    np.testing.assert_allclose(ours, uniform_graph()[0], atol=1e-12)
    assert set(np.flatnonzero(ours[:, 0])) == {0, 1, 4, 7, 16}
    np.testing.assert_allclose(ours[[0, 1, 4, 7, 16], 0], 0.2)
    np.testing.assert_allclose(ours.sum(0), 1.0)


def _zero_residual(smpl, encoding):
    from HMR.temporal.ehgformer import EHGFormerRefiner
    from HMR.temporal.ehgformer_backbone import read_joint_labels
    refiner = EHGFormerRefiner(smpl, read_joint_labels("manual2"), dim=16, depth=1, heads=2, hidden=8,
                               pose_encoding=encoding)
    for name in ("weight", "bias"):
        param = getattr(refiner.head.head_pose, name)
        param.set_data(ms.Tensor(np.zeros(param.shape, np.float32)))
    refiner.set_train(False)
    return refiner


def test_rows_in_columns_out(smpl):
    """With the residual zeroed the refiner outputs Gram-Schmidt of the rows-6D read as columns (hand-computed
    from scipy's matrices), not the input rotation: EHGFormer's encoder and decoder disagree, kept as is. The
    ``columns`` diagnostic returns the input rotation."""
    from scipy.spatial.transform import Rotation
    pose2d, theta, shape = _inputs(1, 5)
    rot = _zero_residual(smpl, "rows")(*map(ms.Tensor, (pose2d, theta, shape)))[0].asnumpy().reshape(-1, 3, 3)
    matrices = Rotation.from_rotvec(theta.reshape(-1, 3).astype(np.float64)).as_matrix()
    six = matrices[:, :2, :].reshape(-1, 6)                       # rows: R00 R01 R02 R10 R11 R12
    a1, a2 = six[:, 0::2], six[:, 1::2]                           # read as columns (view(-1, 3, 2))
    b1 = a1 / np.linalg.norm(a1, axis=1, keepdims=True)
    b2 = a2 - np.sum(b1 * a2, 1, keepdims=True) * b1
    b2 /= np.linalg.norm(b2, axis=1, keepdims=True)
    want = np.stack([b1, b2, np.cross(b1, b2)], -1)
    np.testing.assert_allclose(rot, want, atol=2e-5)
    assert np.abs(rot - matrices).max() > 0.1
    same = _zero_residual(smpl, "columns")(*map(ms.Tensor, (pose2d, theta, shape)))[0].asnumpy()
    np.testing.assert_allclose(same.reshape(-1, 3, 3), matrices, atol=2e-5)


@pytest.mark.parametrize("labels", ["manual1", "manual2"])
def test_converted_release_equals_pytorch(labels, smpl, body_model_dir, tmp_path):
    """A release-format file (``{'model': DataParallel state dict}``, SMPL buffers and the unused 3D head
    included) of the mirror at EHGFormer's size, converted by ``--from ehgformer``: the config names the
    joint-label file told from ``hyper_matrix``; the checkpoint and the exported ONNX (onnxruntime, N and T
    free, the seed's names) equal the mirror within 1e-4 relative for N in {1, 3} and T in {16, 43}."""
    import onnxruntime as ort
    import yaml

    from model_utils.config import load_config
    from src.checkpoints import load_model_weights
    from src.convert.convert import convert
    from src.deployment.export_refiner import export_refiner
    from src.inference.temporal import build_temporal_refiner
    from tests.reference.torch_ehgformer import MeshRegressor, randomised, release_file
    torch.manual_seed(0)
    reference = randomised(MeshRegressor(str(body_model_dir / "neutral_smpl_with_cocoplus_reg.pkl"),
                                         np.load(body_model_dir / "J_regressor_h36m.npy"), labels))
    release_file(reference, str(tmp_path / f"best_epoch_{labels}.bin"))
    result = convert("ehgformer", str(tmp_path / f"best_epoch_{labels}.bin"), str(tmp_path / "ehg.ckpt"))
    with open(result["config"], encoding="utf-8") as handle:
        written = yaml.safe_load(handle)
    assert written["temporal_refiner"] == "ehgformer" and written["ehgformer_joint_label"] == labels
    assert (written["ehgformer_dim"], written["ehgformer_depth"], written["ehgformer_heads"],
            written["ehgformer_hidden"]) == (128, 6, 8, 1024)
    config = load_config(["--config_path", result["config"]])
    refiner = build_temporal_refiner(config, smpl)
    load_model_weights(config.temporal_checkpoint, refiner)
    refiner.set_train(False)
    onnx_path = export_refiner(config.replace(file_format="ONNX"), refiner, str(tmp_path / "ehg"))
    session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    assert [(i.name, i.shape) for i in session.get_inputs()] == [
        ("pose2d", ["N", "T", 17, 3]), ("hybrik_theta", ["N", "T", 72]), ("hybrik_shape", ["N", "T", 10])]
    assert [o.name for o in session.get_outputs()] == ["rot_mat", "shape", "vertices", "keypoint_3d"]
    for n, t in SIZES:
        inputs = _inputs(n, t)
        with torch.no_grad():
            want = [o.numpy() for o in reference(*map(torch.tensor, inputs))]
        _assert_relative([o.asnumpy() for o in refiner(*map(ms.Tensor, inputs))], want)
        _assert_relative(session.run(None, dict(zip(("pose2d", "hybrik_theta", "hybrik_shape"), inputs))), want)


def test_mindir_is_dynamic_in_n_and_t(smpl, tmp_path):
    """The MINDIR export (N and T free natively, the temporal position slice included) equals the network for
    N in {1, 3} and T in {16, 43} (a small network: the graph is the same at any width)."""
    from model_utils.config import load_config
    from src.deployment.export_refiner import export_refiner
    from src.inference.temporal import build_temporal_refiner
    config = load_config(["--temporal_refiner", "ehgformer", "--ehgformer_dim", "16", "--ehgformer_depth", "2",
                          "--ehgformer_heads", "2", "--ehgformer_hidden", "16", "--file_format", "MINDIR"])
    refiner = build_temporal_refiner(config, smpl)
    rng = np.random.default_rng(5)
    for param in refiner.trainable_params():
        param.set_data(ms.Tensor(param.asnumpy() + rng.normal(0, 0.05, param.shape).astype(np.float32)))
    refiner.set_train(False)
    graph = ms.nn.GraphCell(ms.load(export_refiner(config, refiner, str(tmp_path / "ehg"))))
    for n, t in SIZES:
        inputs = _inputs(n, t)
        want = [o.asnumpy() for o in refiner(*map(ms.Tensor, inputs))]
        _assert_relative([o.asnumpy() for o in graph(*map(ms.Tensor, inputs))], want)


def test_converter_names_what_is_wrong(tmp_path):
    """Not an EHGFormer file, or a hyperedge matrix of no known joint-label file: one error naming the key."""
    from model_utils.errors import UserInputError
    from src.convert.convert import convert
    torch.save({"model": {"module.backbone.foo": torch.zeros(2)}}, str(tmp_path / "other.bin"))
    with pytest.raises(UserInputError, match="Spatial_patch_to_embedding"):
        convert("ehgformer", str(tmp_path / "other.bin"), str(tmp_path / "x.ckpt"))
    state = {"module.backbone.Spatial_patch_to_embedding.weight": torch.zeros(8, 3),
             "module.backbone.STEblocks.0.hyper_attn_blk.attn.w1": torch.zeros(2, 4),
             "module.backbone.STEblocks.0.hyper_attn_blk.hyper_edge.hyper_matrix": torch.zeros(17, 4),
             "module.head.fc1.weight": torch.zeros(4, 136)}
    torch.save({"model": state}, str(tmp_path / "odd.bin"))
    with pytest.raises(UserInputError, match="hyper_matrix' has shape"):
        convert("ehgformer", str(tmp_path / "odd.bin"), str(tmp_path / "x.ckpt"))
    assert not (tmp_path / "x.ckpt").exists()
