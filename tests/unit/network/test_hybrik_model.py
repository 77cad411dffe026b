"""HybrIK's whole model against PyTorch mirrors of its two releases (``HRNetSMPLCam`` with HRNet-W48 and
``Simple3DPoseBaseSMPLCam`` with ResNet-34, ``tests/reference/torch_hybrik_model.py``): their state dicts in the
released layout (random weights, BatchNorm statistics randomised), converted by ``src.convert --from hybrik``,
run through eval.py's model loading and through the exported ONNX with the seed system's names."""
import numpy as np
import pytest

from tests.reference.hybrik_release import photo_inputs, reference_model

SEED_INPUTS = ("input_image", "bbox", "image_center")
SEED_SHAPES = {"pred_shape": (10,), "pred_theta_mats": (216,), "pred_uvd_jts": (87,), "pred_xyz_jts_29": (87,),
               "pred_xyz_jts_24": (72,), "pred_xyz_jts_24_struct": (72,), "pred_xyz_jts_17": (51,),
               "pred_vertices": (6890, 3), "cam_scale": (1,), "cam_root": (3,), "transl": (3,), "pred_camera": (1,)}


@pytest.fixture(scope="module", params=["hrnet", "resnet"])
def converted(request, body_model_dir, tmp_path_factory):
    """(kind, the PyTorch outputs without and with the flip test, the converted config)."""
    import smplx
    import torch
    from src.convert.convert import convert
    kind = request.param
    folder = tmp_path_factory.mktemp(f"hybrik_{kind}")
    init_shape = np.random.default_rng(1).normal(0, 0.5, 10).astype(np.float32)
    model = reference_model(kind, init_shape)
    regressor = torch.tensor(np.load(body_model_dir / "J_regressor_h36m.npy"), dtype=torch.float32)
    model.attach_body(smplx.SMPL(str(body_model_dir / "neutral_smpl_with_cocoplus_reg.pkl")), regressor)
    images, boxes, centres = photo_inputs()
    want = {}
    with torch.no_grad():
        for flip in (False, True):
            out = model(torch.tensor(images), flip, torch.tensor(boxes), torch.tensor(centres))
            want[flip] = {k: v.numpy() for k, v in out.items()}
    state = dict(model.state_dict())
    state["smpl.v_template"] = torch.zeros(6890, 3)            # the releases carry the body model's buffers
    saved = folder / f"hybrik_{kind}.pth"
    torch.save({"model": state} if kind == "hrnet" else state, saved)      # both layouts the releases come in
    result = convert("hybrik", str(saved), str(folder / f"hybrik_{kind}.ckpt"))
    return kind, want, result, folder


def _config(result, body_model_dir, *extra):
    from model_utils.config import load_config
    return load_config(["--config_path", result["config"], "--smpl_model_path",
                        str(body_model_dir / "neutral_smpl_with_cocoplus_reg.pkl"), "--h36m_regressor_path",
                        str(body_model_dir / "J_regressor_h36m.npy"), *extra])


NETWORK_OUTPUTS = ("pred_uvd_jts", "pred_shape", "pred_phi", "pred_sigma")
# Outputs after the IK: random weights give random skeletons, whose local rotations are mostly 130-178 degrees
# (a body's are mostly under 90); a swing near a half turn resolves its axis to ~delta / (L sin theta), so the
# 3e-5 the joints differ by in float32 becomes up to 2.4e-3 in the rotations (measured; the body layer alone,
# on the same joints, agrees to 2e-5). On what a trained network predicts for bodies the part after the network
# agrees within 1e-4: test_camera_and_ik_equal_pytorch_on_body_predictions.
# The HRNet model's camera scale (and so cam_root and transl) is re-fitted to the naive IK's joints.
IK_OUTPUTS = ("pred_theta_mats", "pred_vertices", "pred_xyz_jts_24_struct", "pred_xyz_jts_17", "cam_scale", "cam_root",
              "transl")
IK_TOLERANCE = 5e-3


def _close(got, want, name, tolerance=1e-4):
    """Within ``tolerance`` of the reference's largest magnitude (relative), element by element."""
    np.testing.assert_allclose(got, want, rtol=0, atol=tolerance * float(np.abs(want).max()), err_msg=name)


def _compare(got, want, rows=slice(None)):
    for name in NETWORK_OUTPUTS:
        if name in got:
            _close(got[name], want[name][rows], name)
    for name in IK_OUTPUTS:
        _close(got[name], want[name][rows], name, IK_TOLERANCE)


def _config_values(result):
    import yaml
    with open(result["config"], encoding="utf-8") as handle:
        values = yaml.safe_load(handle)
    assert values["architecture"] == "hybrik" and values["pose_head"] == "twist"
    assert values["image_normalization"] == "hybrik" and values["img_size"] == 256
    return values


def test_converted_config_names_the_release(converted):
    kind, _, result, _ = converted
    values = _config_values(result)
    assert values["backbone"] == {"hrnet": "hybrik_hrnet", "resnet": "hybrik_resnet"}[kind]
    assert values["backbone_width"] == 16
    if kind == "resnet":
        assert values["backbone_depth"] == 18


@pytest.mark.parametrize("kind", ["hrnet", "resnet"])
def test_full_size_releases_convert_key_for_key(kind, tmp_path):
    """The released models' layouts (HRNet-W48, ResNet-34): every key of the mirror's state dict maps onto a
    parameter of the same shape and every parameter is filled (``convert`` checks both); the width and depth
    are read from the keys."""
    import torch
    from src.convert.convert import convert
    from tests.reference.torch_hybrik_model import HRNetSMPLCam, Simple3DPoseBaseSMPLCam
    model = HRNetSMPLCam(np.zeros(10)) if kind == "hrnet" else Simple3DPoseBaseSMPLCam(np.zeros(10))
    state = model.state_dict()
    torch.save(state, tmp_path / "release.pth")
    result = convert("hybrik", str(tmp_path / "release.pth"), str(tmp_path / "release.ckpt"))
    values = _config_values(result)
    assert (values["backbone"], values["backbone_width"]) == \
        {"hrnet": ("hybrik_hrnet", 48), "resnet": ("hybrik_resnet", 64)}[kind]
    assert values.get("backbone_depth", 34) == 34
    assert result["parameters"] == len([k for k in state if not k.endswith("num_batches_tracked")])


def test_eval_model_path_equals_pytorch(converted, body_model_dir):
    """eval.py's loading (``src.inference.loading.load_model``) of the converted checkpoint, in evaluation mode
    (the inference IK; HRNet's scale re-fit), without and with the flip test (``--flip_test``: the same model
    with its ``flip_test`` switched on, PyNative)."""
    import mindspore as ms
    from HMR.outputs import HYBRIK_OUTPUTS
    from src.builders import build_smpl
    from src.inference.loading import load_model
    _, want, result, _ = converted
    config = _config(result, body_model_dir)
    model = load_model(config, build_smpl(config))
    model.set_train(False)
    images, boxes, centres = photo_inputs()
    for flip in (False, True):
        model.flip_test = flip
        got = dict(zip(HYBRIK_OUTPUTS, (o.asnumpy() for o in model.predict(ms.Tensor(images), ms.Tensor(boxes),
                                                                                 ms.Tensor(centres)))))
        _compare(got, want[flip])
        _close(got["pred_camera"], want[flip]["pred_camera"][:, :1], "pred_camera")
        if not flip:
            _check_model_outputs(model, images, boxes, centres, got)


def _check_model_outputs(model, images, boxes, centres, predicted):
    """The model called as every job calls it (``MODEL_OUTPUTS``): HybrIK's mesh, shape and rotations, and 2D
    keypoints where HybrIK's demo draws the mesh: a pinhole of focal 1000 / 256 box widths at the image
    centre, the body at ``transl`` (computed here in numpy)."""
    import mindspore as ms
    from HMR.outputs import MODEL_OUTPUTS
    out = dict(zip(MODEL_OUTPUTS, (o.asnumpy() for o in model(ms.Tensor(images), None, ms.Tensor(boxes),
                                                                 ms.Tensor(centres)))))
    np.testing.assert_allclose(out["vertices"], predicted["pred_vertices"], atol=1e-6)
    np.testing.assert_allclose(out["betas"], predicted["pred_shape"], atol=1e-6)
    np.testing.assert_allclose(out["rotmats"].reshape(len(images), -1), predicted["pred_theta_mats"], atol=1e-6)
    width = boxes[:, 2:3] - boxes[:, :1]
    placed = out["joints3d"] + predicted["transl"][:, None]
    pixels = 1000.0 / 256.0 * width[:, None] * placed[..., :2] / placed[..., 2:] + centres[:, None]
    crop = (pixels - (boxes[:, None, :2] + boxes[:, None, 2:]) / 2) / width[:, None] * 2.0
    np.testing.assert_allclose(out["keypoints2d"], crop, atol=1e-4)


def test_exported_onnx_has_the_seed_interface_and_equals_pytorch(converted, body_model_dir):
    import onnxruntime as ort
    from src.builders import build_smpl
    from src.deployment.export import export_model
    from src.inference.loading import load_model
    _, want, result, folder = converted
    config = _config(result, body_model_dir, "--file_format", "ONNX", "--export_batch_size", "0")
    model = load_model(config, build_smpl(config))
    path = export_model(config, model, str(folder / "hybrik"))
    session = ort.InferenceSession(path)
    assert [i.name for i in session.get_inputs()] == list(SEED_INPUTS)
    assert [o.name for o in session.get_outputs()] == list(SEED_SHAPES)
    images, boxes, centres = photo_inputs()
    for rows in (slice(0, 1), slice(0, 3)):
        outputs = session.run(None, dict(zip(SEED_INPUTS, (images[rows], boxes[rows], centres[rows]))))
        got = dict(zip(SEED_SHAPES, outputs))
        for name, shape in SEED_SHAPES.items():
            assert got[name].shape == (len(images[rows]),) + shape, name
        _compare(got, want[False], rows)


def _body_predictions(body_model_dir, count=4):
    """What a trained network predicts for bodies: the embedded body's 29 joints (smplx, mild random poses and
    shapes) turned to face the camera 4.3 m away, each in its own square box, as (u, v, d) with 5 mm-scale
    noise; sigmas 0.01-0.09 (``update_scale`` weights 0.1-0.9), unnormalised twists, cameras near 0.9."""
    import smplx
    import torch
    rng = np.random.default_rng(21)
    model = smplx.SMPL(str(body_model_dir / "neutral_smpl_with_cocoplus_reg.pkl"))
    with torch.no_grad():
        out = model(betas=torch.tensor(rng.normal(0, 1, (count, 10)), dtype=torch.float32),
                    body_pose=torch.tensor(rng.normal(0, 0.3, (count, 69)), dtype=torch.float32),
                    global_orient=torch.tensor(rng.normal(0, 0.3, (count, 3)), dtype=torch.float32))
    joints = torch.cat([out.joints[:, :24], out.vertices[:, [411, 2445, 5905, 3216, 6617]]], 1).numpy()
    joints = (joints - joints[:, :1]) * np.array([1.0, -1.0, -1.0])          # facing the camera, image y down
    root_depth = 4.3 + rng.uniform(-0.3, 0.3, (count, 1))
    boxes = np.stack([np.array([100.0, 60.0, 400.0, 360.0]) + rng.uniform(-80, 80) for _ in range(count)])
    centres = np.tile([320.0, 240.0], (count, 1))
    offset = ((boxes[:, :2] + boxes[:, 2:]) / 2 - centres) / (boxes[:, 2:] - boxes[:, :2])
    # the root placed so that it projects near the box centre (u, v ~ 0): x = (u + offset) z 256 / 1000
    root = np.concatenate([(offset + rng.normal(0, 0.05, (count, 2))) * root_depth * 256.0 / 1000.0, root_depth], 1)
    placed = joints + root[:, None]
    uv = placed[..., :2] / placed[..., 2:] * (1000.0 / 256.0) - offset[:, None]
    uvd = np.concatenate([uv, joints[..., 2:] / 2.2], -1) + rng.normal(0, 0.002, (count, 29, 3))
    sigma = rng.uniform(0.01, 0.09, (count, 29, 1))
    twist = rng.normal(0, 1, (count, 23, 2))
    camera = 0.9 + rng.normal(0, 0.05, (count, 3)) * np.array([1.0, 0.1, 0.1])
    betas = rng.normal(0, 1, (count, 10))
    return [a.astype(np.float32) for a in (uvd, sigma, twist, camera, betas, boxes, centres)]


@pytest.mark.parametrize("refit, numbers", [(True, 1), (False, 3)], ids=["hrnet_tail", "res34_tail"])
def test_camera_and_ik_equal_pytorch_on_body_predictions(body_model_dir, refit, numbers):
    """The part after the network (HRNet's scale re-fit by the naive IK, the back-projection, the inference IK,
    skinning) on what a trained network predicts for bodies, against the PyTorch mirror's ``update_scale`` and
    the forward's tail: within 1e-4 relative on rotations, vertices and the camera (the random-weight models
    above cannot show this, their skeletons being random)."""
    import mindspore as ms
    import smplx
    import torch
    from HMR import SMPL
    from HMR.hybrik import HybrIKModel
    from HMR.outputs import HYBRIK_OUTPUTS
    from tests.reference.torch_hybrik_model import _SMPLCam
    uvd, sigma, twist, camera, betas, boxes, centres = _body_predictions(body_model_dir)
    camera = camera[:, :numbers]
    pkl, regressor = body_model_dir / "neutral_smpl_with_cocoplus_reg.pkl", body_model_dir / "J_regressor_h36m.npy"
    model = HybrIKModel(SMPL(str(pkl), extra_regressors={"h36m": str(regressor)}), "hybrik_resnet",
                        {"depth": 18, "width": 8}, {"shape": np.zeros(10, np.float32)}, refit_scale=refit,
                        camera_numbers=numbers)
    model.set_train(False)
    got = model.solve(*(ms.Tensor(a) for a in (uvd, np.zeros_like(sigma), betas, twist, camera, sigma, boxes,
                                               centres)))[0]
    got = dict(zip(HYBRIK_OUTPUTS, (o.asnumpy() for o in got)))
    mirror = _SMPLCam()
    mirror.attach_body(smplx.SMPL(str(pkl)), torch.tensor(np.load(regressor), dtype=torch.float32))
    with torch.no_grad():
        want = mirror.tail(*(torch.tensor(a) for a in (uvd, betas, twist, camera, sigma, boxes, centres)), refit)
    for name in IK_OUTPUTS + ("pred_xyz_jts_29",):
        _close(got[name], want[name].numpy(), name)
