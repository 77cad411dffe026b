"""3DCrowdNet (ResNet-50) and HAP's 3D model (ViT-B) against PyTorch mirrors of the originals
(``tests/reference/torch_crowdnet.py``): their snapshots in the released layout (``{'network': DataParallel state
dict}``, random weights, BatchNorm statistics measured on the inputs and perturbed), converted by
``src.convert --from crowdnet``, run through eval.py's model loading and through the exported ONNX (inputs: the
image and the 30-joint 2D pose). Full layer sizes; the ViT-B's depth reduced to 2 where a forward runs, its
full-size key and shape list converted without one."""
import gc

import numpy as np
import pytest

GRAPH_INPUTS = ("img", "joints", "joints_mask")
OUTPUTS = ("joint_img", "joint_score", "joint_proj", "joint_cam", "smpl_mesh_cam", "smpl_pose", "smpl_shape",
           "cam_param", "cam_trans")
FACE_VERTICES = (331, 2802, 6262, 3489, 3990)       # 3DCrowdNet utils/smpl.py: nose, eyes, ears
HEAD_TOP_ROW = 3                                    # of J_regressor_extra.npy


def _inputs():
    """Two photographs as 256 x 256 crops in [0, 1] and 2D poses in the 64-grid (some joints masked)."""
    import cv2
    import skimage.data
    photos = [skimage.data.astronaut(), skimage.data.coffee()]
    images = np.stack([cv2.resize(p, (256, 256), interpolation=cv2.INTER_AREA) for p in photos]).astype(np.float32)
    rng = np.random.default_rng(3)
    joints = rng.uniform(8, 56, (2, 30, 2)).astype(np.float32)
    mask = (rng.uniform(size=(2, 30, 1)) > 0.2).astype(np.float32)
    return (images / 255.0).transpose(0, 3, 1, 2).copy(), joints, mask


def _regressor30(smpl, body_model_dir):
    """The 30 joints' regressor as 3DCrowdNet's ``utils/smpl.py`` builds it, from smplx's J_regressor."""
    rows = smpl.J_regressor.numpy()
    face = np.zeros((5, rows.shape[1]), np.float32)
    face[np.arange(5), FACE_VERTICES] = 1.0
    extra = np.load(body_model_dir / "J_regressor_extra.npy")
    return np.concatenate([rows, face, extra[HEAD_TOP_ROW:HEAD_TOP_ROW + 1]]).astype(np.float32)


def _reference(body_model_dir, vit_depth):
    """The PyTorch model, its BatchNorm statistics measured on the inputs then perturbed, its camera head made to
    place the body in front of the camera."""
    import smplx
    import torch
    from tests.reference.torch_crowdnet import Model
    torch.manual_seed(0)
    smpl = smplx.SMPL(str(body_model_dir / "neutral_smpl_with_cocoplus_reg.pkl"))
    model = Model(smpl, _regressor30(smpl, body_model_dir), vit_depth)
    norms = [m for m in model.modules() if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d))]
    images, joints, mask = _inputs()
    rng = np.random.default_rng(5)          # 16 samples: per-joint BatchNorm1d statistics of 2 would be degenerate
    images = np.concatenate([images, images[..., ::-1], images[:, ::-1], images[:, :, ::-1]] * 2)
    joints = np.concatenate([joints] * 8) + rng.normal(0, 4, (16, 30, 2)).astype(np.float32)
    with torch.no_grad():
        for norm in norms:
            norm.momentum = None
        model.train()
        model(torch.tensor(images.copy()), torch.tensor(joints), torch.tensor(np.concatenate([mask] * 8)))
        generator = torch.Generator().manual_seed(1)
        for norm in norms:
            norm.running_var.mul_(torch.empty(norm.running_var.shape).uniform_(0.9, 1.1, generator=generator))
            norm.weight.uniform_(0.8, 1.0, generator=generator)
            norm.bias.normal_(0, 0.05, generator=generator)
        # a camera as a trained model's: the body ~10 m away (t_z = 48.8 sigmoid(c)), near the crop's centre
        cam = model.rotation_net.cam_out[0]
        cam.weight.mul_(0.01)
        cam.bias.copy_(torch.tensor([0.05, -0.1, -1.4]))
    return model.eval()


def _snapshot(model, path):
    """The model saved as 3DCrowdNet's trainer saves it: DataParallel names, the body model's buffers included
    (``human_model_layer.*``)."""
    import torch
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    assert any(k.startswith("module.human_model_layer.") for k in state)
    torch.save({"epoch": 10, "network": state, "optimizer": {}}, path)
    return state


@pytest.fixture(scope="module", params=["resnet", "vit"])
def converted(request, body_model_dir, tmp_path_factory):
    """(kind, the PyTorch outputs, the conversion's result, folder, the snapshot's keys and shapes)."""
    import torch
    from src.convert.convert import convert
    kind = request.param
    folder = tmp_path_factory.mktemp(f"crowdnet_{kind}")
    model = _reference(body_model_dir, 2 if kind == "vit" else 0)
    with torch.no_grad():
        want = {k: v.numpy() for k, v in model(*(torch.tensor(a) for a in _inputs())).items()}
    state = _snapshot(model, folder / "snapshot_10.pth.tar")
    result = convert("crowdnet", str(folder / "snapshot_10.pth.tar"), str(folder / "crowd.ckpt"))
    keys = {k: tuple(v.shape) for k, v in state.items()}        # the tensors themselves are not kept
    del model, state
    gc.collect()
    yield kind, want, result, folder, keys
    gc.collect()


def _config(result, body_model_dir, *extra):
    from model_utils.config import load_config
    return load_config(["--config_path", result["config"], "--data_path", str(body_model_dir), *extra])


def _close(got, want, name, tolerance=1e-4):
    """Within ``tolerance`` of the reference's largest magnitude (relative), element by element."""
    np.testing.assert_allclose(got, want, rtol=0, atol=tolerance * float(np.abs(want).max()), err_msg=name)


def _all_close(got, want, names, rows=slice(None)):
    """Every output within 1e-4 relative (``_close``); the failure lists each output's relative error."""
    errors = {n: float(np.abs(got[n] - want[n][rows]).max() / np.abs(want[n][rows]).max()) for n in names}
    assert max(errors.values()) <= 1e-4, errors


def test_converted_config_and_parameters(converted):
    import yaml
    kind, _, result, _, state = converted
    with open(result["config"], encoding="utf-8") as handle:
        values = yaml.safe_load(handle)
    assert values["architecture"] == "crowdnet" and values["pose_head"] == "vposer"
    assert values["image_normalization"] == "unit" and values["img_size"] == 256
    assert values["crowdnet_feature_dim"] == 2048
    if kind == "vit":
        assert (values["backbone"], values["vit_depth"], values["vit_patch_padding"]) == ("vit_b16", 2, 2)
    else:
        assert (values["backbone"], values["backbone_depth"], values["backbone_width"]) == ("resnet", 50, 64)
    # every weight of the snapshot but the body model's buffers and VPoser's encoder; 15 per-joint tensors stacked
    kept = [k for k in state if not k.endswith("num_batches_tracked") and "human_model_layer" not in k
            and "bodyprior_enc" not in k]
    per_joint = [k for k in kept if ".fcbn_list." in k]
    assert result["parameters"] == len(kept) - len(per_joint) + len(per_joint) // 15


def test_eval_model_path_equals_pytorch(converted, body_model_dir):
    """eval.py's loading (``load_model``) of the converted checkpoint: the test outputs within 1e-4 relative, and
    the model called as every job calls it (``MODEL_OUTPUTS``) gives the same mesh, shape and a camera whose
    translation is the original's."""
    import mindspore as ms
    from HMR.outputs import MODEL_OUTPUTS
    from src.builders import build_smpl
    from src.inference.loading import load_model
    _, want, result, _, _ = converted
    config = _config(result, body_model_dir)
    model = load_model(config, build_smpl(config))
    model.set_train(False)
    inputs = [ms.Tensor(a) for a in _inputs()]
    got = dict(zip(OUTPUTS, (o.asnumpy() for o in model.predict(*inputs))))
    _all_close(got, want, OUTPUTS)
    out = dict(zip(MODEL_OUTPUTS, (o.asnumpy() for o in model(inputs[0], None, *inputs[1:]))))
    _close(out["pose"], want["smpl_pose"], "pose")
    _close(out["betas"], want["smpl_shape"], "betas")
    # cam = (s, tx, ty) of a focal-5000 camera at the 256 px crop: t_z = 2 * 5000 / (256 s)
    depth = 2 * 5000.0 / (256.0 * out["cam"][:, 0])
    _close(np.stack([out["cam"][:, 1], out["cam"][:, 2], depth], 1), want["cam_trans"], "cam")
    root = (out["vertices"] - want["smpl_mesh_cam"])
    np.testing.assert_allclose(root, np.broadcast_to(root[:, :1], root.shape), atol=1e-4)


def test_exported_onnx_takes_the_2d_pose_and_equals_pytorch(converted, body_model_dir):
    import onnxruntime as ort
    from src.builders import build_smpl
    from src.deployment.export import export_model
    from src.inference.loading import load_model
    _, want, result, folder, _ = converted
    config = _config(result, body_model_dir, "--file_format", "ONNX", "--export_batch_size", "0")
    model = load_model(config, build_smpl(config))
    path = export_model(config, model, str(folder / "crowdnet"))
    session = ort.InferenceSession(path)
    assert [i.name for i in session.get_inputs()] == list(GRAPH_INPUTS)
    assert [o.name for o in session.get_outputs()] == list(OUTPUTS)
    inputs = _inputs()
    for rows in (slice(0, 1), slice(0, 2)):
        got = dict(zip(OUTPUTS, session.run(None, dict(zip(GRAPH_INPUTS, (a[rows] for a in inputs))))))
        _all_close(got, want, OUTPUTS, rows)


def test_full_size_hap_snapshot_converts_key_for_key(tmp_path, body_model_dir):
    """HAP's ViT-B at its full depth (12 blocks, 768 wide): every key and shape, without a forward."""
    import torch
    from src.convert.convert import check_against
    from src.convert.crowdnet_format import converted as convert_state
    from tests.reference.torch_crowdnet import Model
    smpl = torch.nn.Module()
    model = Model(smpl, np.zeros((30, 6890), np.float32), vit_depth=12)
    state = {f"module.{k}": v.numpy() for k, v in model.state_dict().items()}
    arrays, expected, values = convert_state({"network": state}, "hap.pth.tar")
    assert (values["backbone"], values["vit_depth"]) == ("vit_b16", 12)
    mapped = check_against(arrays, expected, "hap.pth.tar")
    assert mapped["rotation_net.graph_block.0.weight"].shape == (15, 128, 2052)
    assert mapped["vit_conv_layer.weight"].shape == (2048, 768, 1, 1)
    np.testing.assert_array_equal(mapped["rotation_net.graph_block.2.graph_block1.bn.moving_variance"][128:256],
                                  state["module.rotation_net.graph_block.2.graph_block1.fcbn_list.1.1.running_var"])
    del model, state, arrays, mapped
    gc.collect()


def test_bad_snapshot_is_named(tmp_path):
    import torch
    from model_utils.errors import UserInputError
    from src.convert.convert import convert
    path = tmp_path / "other.pth.tar"
    torch.save({"network": {"module.fc.weight": torch.zeros(2, 2)}}, path)
    with pytest.raises(UserInputError, match="not a 3DCrowdNet / HAP snapshot.*position_net"):
        convert("crowdnet", str(path), str(tmp_path / "out.ckpt"))


def test_vposer_snapshot_converts_and_decodes_as_human_body_prior(tmp_path, body_model_dir):
    """A VPoser v1 snapshot (the model's state dict, encoder included) -> ``--from vposer`` -> ``vposer_path``: the
    crowdnet model's frozen decoder gives human_body_prior's rotations for the same codes."""
    import mindspore as ms
    import torch
    from src.builders import build_model, build_smpl
    from src.convert.convert import convert
    from tests.reference.torch_crowdnet import VPoserV1
    torch.manual_seed(2)
    vposer = VPoserV1().eval()
    torch.save(vposer.state_dict(), tmp_path / "TR00_E096.pt")
    result = convert("vposer", str(tmp_path / "TR00_E096.pt"), str(tmp_path / "vposer.ckpt"))
    assert result["parameters"] == len([k for k in vposer.state_dict() if not k.endswith("num_batches_tracked")])
    config = _config({"config": _small_config(tmp_path)}, body_model_dir, "--vposer_path", str(tmp_path / "vposer.ckpt"))
    model = build_model(config, build_smpl(config))
    codes = np.random.default_rng(0).normal(0, 1, (3, 32)).astype(np.float32)
    with torch.no_grad():
        want = vposer.decode(torch.tensor(codes)).numpy()
    np.testing.assert_allclose(model.vposer(ms.Tensor(codes)).asnumpy(), want, atol=1e-5)
    assert not any(p.requires_grad for p in model.vposer.get_parameters())


def _small_config(folder):
    """A small crowdnet's config file (ResNet-18, 64 features)."""
    import yaml
    path = folder / "small.yaml"
    path.write_text(yaml.safe_dump({"architecture": "crowdnet", "pose_head": "vposer", "backbone": "resnet",
                                    "backbone_depth": 18, "backbone_width": 8, "img_size": 256, "img_width": 0,
                                    "image_normalization": "unit", "crowdnet_feature_dim": 64}))
    return str(path)
