"""The HMR network: output shapes and dtypes, layouts, initial state."""
import numpy as np
import pytest

import mindspore as ms
from HMR.backbones.resnet import ResNet
from HMR.discriminator import Discriminator
from HMR.model import HMR
from HMR.heads.iterative import default_mean_params
from HMR.smpl.layer import SMPL


@pytest.fixture(params=["pynative", "graph"])
def mode(request):
    ms.set_context(mode=ms.PYNATIVE_MODE if request.param == "pynative" else ms.GRAPH_MODE)
    yield request.param
    ms.set_context(mode=ms.PYNATIVE_MODE)


def _mean_params(head):
    pose, shape, cam = default_mean_params()
    if head == "axis_angle":
        return {"theta": np.concatenate([cam, pose, shape])}
    from scipy.spatial.transform import Rotation
    six = Rotation.from_rotvec(pose.reshape(24, 3)).as_matrix()[:, :, :2].reshape(144)
    return {"pose": six, "shape": shape, "cam": cam}


@pytest.mark.parametrize("head", ["axis_angle", "rot6d"])
@pytest.mark.parametrize("batch", [1, 5])
def test_output_shapes_and_dtypes(mode, head, batch, body_model_pkl):
    ms.set_seed(0)
    model = HMR(SMPL(body_model_pkl), backbone_depth=18, backbone_width=8, pose_head=head,
                mean_params=_mean_params(head))
    model.set_train(False)
    images = ms.Tensor(np.random.default_rng(0).normal(size=(batch, 3, 64, 64)).astype(np.float32))
    outputs = model(images)
    expected = [(batch, 3), (batch, 72), (batch, 10), (batch, 24, 3, 3), (batch, 6890, 3), (batch, 19, 3), (batch, 19, 2)]
    assert [tuple(o.shape) for o in outputs] == expected
    assert all(o.dtype == ms.float32 for o in outputs)
    assert all(np.isfinite(o.asnumpy()).all() for o in outputs)


@pytest.mark.parametrize("head", ["axis_angle", "rot6d"])
def test_untrained_prediction_is_near_the_mean(head, body_model_pkl):
    """Small init of the last layer: three iterations move theta only slightly from the mean."""
    ms.set_seed(1)
    model = HMR(SMPL(body_model_pkl), backbone_depth=18, backbone_width=8, pose_head=head,
                mean_params=_mean_params(head))
    model.set_train(False)
    cam, pose, betas, rotmats, *_ = model(ms.Tensor(np.zeros((2, 3, 64, 64), np.float32)))
    from scipy.spatial.transform import Rotation
    mean_pose = default_mean_params()[0].reshape(24, 3)
    angle = (Rotation.from_rotvec(pose.asnumpy().reshape(-1, 3)) *
             Rotation.from_rotvec(np.tile(mean_pose, (2, 1))).inv()).magnitude()
    assert angle.max() < 0.2 and np.abs(betas.asnumpy()).max() < 0.2
    assert np.abs(cam.asnumpy() - [0.9, 0.0, 0.0]).max() < 0.1
    np.testing.assert_allclose(Rotation.from_rotvec(pose.asnumpy().reshape(-1, 3)).as_matrix(),
                               rotmats.asnumpy().reshape(-1, 3, 3), atol=1e-4)


def test_keypoints_are_the_projection_of_joints(body_model_pkl):
    model = HMR(SMPL(body_model_pkl), backbone_depth=18, backbone_width=8, mean_params=_mean_params("axis_angle"))
    model.set_train(False)
    cam, _, _, _, _, joints, keypoints = (o.asnumpy() for o in model(ms.Tensor(np.ones((3, 3, 64, 64), np.float32))))
    expected = cam[:, None, :1] * (joints[:, :, :2] + cam[:, None, 1:])
    np.testing.assert_allclose(keypoints, expected, atol=1e-6)


def test_resnet50_torchvision_layout():
    net = ResNet(50)
    names = {p.name for p in net.get_parameters()}
    assert net.feature_dim == 2048
    for name in ("conv1.weight", "bn1.gamma", "bn1.moving_mean", "layer1.0.conv1.weight", "layer1.0.downsample.0.weight",
                 "layer1.0.downsample.1.moving_variance", "layer2.3.conv3.weight", "layer3.5.bn2.beta",
                 "layer4.2.conv3.weight", "layer4.0.downsample.0.weight"):
        assert name in names, name
    convs = [p for p in net.get_parameters() if p.name.endswith(".weight") and len(p.shape) == 4]
    assert len(convs) == 53                        # torchvision resnet50: 49 + 4 downsample convs
    assert sum(int(np.prod(p.shape)) for p in net.trainable_params()) == 23_508_032   # torchvision, without fc


def test_resnet_pooling_handles_any_size():
    net = ResNet(18, 8)
    net.set_train(False)
    for side in (64, 97):
        out = net(ms.Tensor(np.zeros((2, 3, side, side), np.float32)))
        assert out.shape == (2, 64)


def test_hrnet_w48_is_cliffs_classification_hrnet():
    """75,522,240 parameters: mindcv's hrnet_w48 measured 77.6 M with its 2048 -> 1000 classifier
    (2,049,000 of them), which CLIFF's encoder lacks; CLIFF's head convolutions carry biases."""
    from HMR.backbones.hrnet import HRNet
    net = HRNet(48)
    params = {p.name: p.shape for p in net.get_parameters()}
    total = sum(int(np.prod(s)) for s in params.values())
    assert total == 75_522_240 and abs(total + 2_049_000 - 77.6e6) < 0.05e6
    assert params["downsamp_modules.2.0.bias"] == (1024,) and params["final_layer.0.bias"] == (2048,)
    assert params["stage4.2.fuse_layers.3.0.2.0.weight"] == (384, 48, 3, 3)       # 3 strided steps 48 -> 384
    assert params["transition3.3.0.0.weight"] == (384, 192, 3, 3) and "transition3.0.0.weight" not in params


def test_pose_hrnet_w48_is_meta_hmrs_cliff_hrnet_encoder():
    """The pose HRNet-W48 has 63.6 M parameters (Sun et al. 2019, Table 1), whose stage 4 ends
    in one output; Meta-HMR keeps all four (fuse rows 1-3 of the last module: 1,725,696 weights
    + 4,512 BN), drops the heatmap conv (48 x 24 + 24) and adds the downsampling convolutions
    (3 x 48^2 + 2 x 96^2 + 192^2 times 9, + 1,056 BN): 720-d features."""
    from HMR.backbones.pose_hrnet import PoseHRNet
    net = PoseHRNet(48)
    params = {p.name: p.shape for p in net.trainable_params()}
    total = sum(int(np.prod(s)) for s in params.values())
    expected = 63.6e6 + 1_725_696 + 4_512 - (48 * 24 + 24) + 9 * (3 * 48 ** 2 + 2 * 96 ** 2 + 192 ** 2) + 1_056
    assert abs(total - expected) < 0.05e6 and net.feature_dim == 720
    assert params["downsample_stage_1.6.weight"] == (48, 48, 3, 3) and "downsample_stage_1.9.weight" not in params
    assert params["downsample_stage_3.0.weight"] == (192, 192, 3, 3) and "downsample_stage_3.3.weight" not in params


def test_pose_hrnet_matches_meta_hmrs_pytorch_network(mode):
    """Same weights as the PyTorch mirror of Meta-HMR's pose HRNet (width 8): the same pooled features."""
    import torch
    from HMR.backbones.pose_hrnet import PoseHRNet
    from src.convert.convert import _map_cliff
    from src.checkpoints import structural_parameters
    from tests.reference.torch_hrnet import PoseHighResolutionNet, randomise_batch_norm_statistics
    torch.manual_seed(0)
    reference = PoseHighResolutionNet(8)
    randomise_batch_norm_statistics(reference)
    net = PoseHRNet(8)
    expected = {f"encoder.{k}": tuple(p.shape) for k, p in structural_parameters(net).items()}
    state = {f"encoder.{k}": v.numpy() for k, v in reference.state_dict().items() if not k.startswith("final_layer")}
    mapped = _map_cliff(state, "reference", expected)
    assert set(mapped) == set(expected)
    ms.load_param_into_net(net, {k[len("encoder."):]: ms.Parameter(ms.Tensor(v)) for k, v in mapped.items()})
    net.set_train(False)
    images = np.random.default_rng(1).normal(size=(2, 3, 128, 96)).astype(np.float32)
    with torch.no_grad():
        want = reference(torch.as_tensor(images)).mean((2, 3)).numpy()
    np.testing.assert_allclose(net(ms.Tensor(images)).asnumpy(), want, rtol=1e-4, atol=1e-4)


def test_hrnet_takes_non_square_crops(mode):
    from HMR.backbones.hrnet import HRNet
    net = HRNet(8)
    net.set_train(False)
    out = net(ms.Tensor(np.random.default_rng(0).normal(size=(2, 3, 96, 64)).astype(np.float32)))
    assert out.shape == (2, 2048) and np.isfinite(out.asnumpy()).all()


def test_discriminator_outputs_25_scores():
    from scipy.spatial.transform import Rotation
    disc = Discriminator()
    rot = Rotation.random(2 * 24, random_state=0).as_matrix().reshape(2, 24, 3, 3).astype(np.float32)
    out = disc(ms.Tensor(rot), ms.Tensor(np.zeros((2, 10), np.float32)))
    assert out.shape == (2, 25)
    # the root rotation is not judged
    rot2 = rot.copy()
    rot2[:, 0] = np.eye(3)
    np.testing.assert_allclose(disc(ms.Tensor(rot2), ms.Tensor(np.zeros((2, 10), np.float32))).asnumpy(), out.asnumpy())


def test_discriminator_structure_is_the_tf_reference():
    """Layer sizes and parameter count of HMR's discriminator (HMR_FACTS): shared 9-32-32 over
    the 23 joints, 23 per-joint heads 32 -> 1, full pose 736-1024-1024-1, shape 10-10-5-1."""
    disc = Discriminator()
    shapes = {p.name: tuple(p.shape) for p in disc.trainable_params()}
    assert shapes == {"joint_fc1.weight": (32, 9), "joint_fc1.bias": (32,), "joint_fc2.weight": (32, 32),
                      "joint_fc2.bias": (32,), "joint_head_weight": (23, 32), "joint_head_bias": (23,),
                      "pose_fc1.weight": (1024, 736), "pose_fc1.bias": (1024,), "pose_fc2.weight": (1024, 1024),
                      "pose_fc2.bias": (1024,), "pose_out.weight": (1, 1024), "pose_out.bias": (1,),
                      "shape_fc1.weight": (10, 10), "shape_fc1.bias": (10,), "shape_fc2.weight": (5, 10),
                      "shape_fc2.bias": (5,), "shape_out.weight": (1, 5), "shape_out.bias": (1,)}
    # by hand: 320 + 1056 + 23*33 + 736*1024+1024 + 1024*1025 + 1025 + 110 + 55 + 6
    assert sum(int(np.prod(s)) for s in shapes.values()) == 1_807_619


def test_discriminator_relus_sit_where_tf_puts_them():
    """slim.conv2d / slim.fully_connected apply ReLU except on the three score layers."""
    from scipy.spatial.transform import Rotation
    disc = Discriminator()
    w = {p.name: p.asnumpy().astype(np.float64) for p in disc.trainable_params()}
    rot = Rotation.random(3 * 24, random_state=1).as_matrix().reshape(3, 24, 3, 3)
    betas = np.random.default_rng(2).normal(size=(3, 10)) * 3

    def dense(x, name, relu=True):
        y = x @ w[f"{name}.weight"].T + w[f"{name}.bias"]
        return np.maximum(y, 0) if relu else y
    joints = dense(dense(rot[:, 1:].reshape(3, 23, 9), "joint_fc1"), "joint_fc2")
    per_joint = (joints * w["joint_head_weight"]).sum(-1) + w["joint_head_bias"]
    full = dense(dense(dense(joints.reshape(3, 736), "pose_fc1"), "pose_fc2"), "pose_out", relu=False)
    shape = dense(dense(dense(betas, "shape_fc1"), "shape_fc2"), "shape_out", relu=False)
    want = np.concatenate([per_joint, full, shape], 1)
    got = disc(ms.Tensor(rot.astype(np.float32)), ms.Tensor(betas.astype(np.float32))).asnumpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_cliff_head_matches_a_pytorch_reference():
    """The 6D head with CLIFF's bbox_info input equals CLIFF's regressor (module names, concat
    order [features, bbox_info, pose, shape, cam]) within 1e-5, weights copied by name."""
    import torch
    from HMR.heads.iterative import Rot6dRegressor
    from tests.reference.torch_cliff import CliffRegressor
    rng = np.random.default_rng(3)
    mean = _mean_params("rot6d")
    torch.manual_seed(0)
    reference = CliffRegressor(mean["pose"], mean["shape"], mean["cam"], feature_dim=64).eval()
    for module in (reference.decpose, reference.decshape, reference.deccam):     # visible residuals
        torch.nn.init.normal_(module.weight, std=0.01)
    head = Rot6dRegressor(64, mean["pose"], mean["shape"], mean["cam"], condition_dim=3)
    state = {k: v.numpy() for k, v in reference.state_dict().items()}
    for name, param in head.parameters_and_names():
        assert state[name].shape == tuple(param.shape), name
        param.set_data(ms.Tensor(state[name]))
    assert set(state) == {n for n, _ in head.parameters_and_names()}
    features = rng.normal(size=(5, 64)).astype(np.float32)
    info = rng.normal(size=(5, 3)).astype(np.float32)
    cam, pose, shape, *_ = (o.asnumpy() for o in head(ms.Tensor(features), None, None, ms.Tensor(info)))
    with torch.no_grad():
        want_pose, want_shape, want_cam = (o.numpy() for o in reference(torch.from_numpy(features),
                                                                        torch.from_numpy(info)))
    for got, want in ((pose, want_pose), (shape, want_shape), (cam, want_cam)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    other_info = head(ms.Tensor(features), None, None, ms.Tensor(info + 1.0))[1].asnumpy()
    assert np.abs(other_info - pose).max() > 1e-4                                   # bbox_info is used


def test_hrnet_refuses_crops_it_cannot_divide():
    from model_utils.config import load_config
    from model_utils.errors import UserInputError
    from src.builders import build_model
    config = load_config(["--backbone", "hrnet", "--img_size", "64", "--img_width", "48"])
    with pytest.raises(UserInputError, match="--backbone hrnet needs crop sides that are multiples of 32 "
                                             r"\(got --img_size 64 --img_width 48"):
        build_model(config, None)


def test_checkpoint_predictor_pads_a_short_batch_to_one_compiled_shape(body_model_pkl):
    """CheckpointPredictor(pad_to=4): 3 rows reach the graph as 4 (one input shape for every batch of an
    evaluation), and their outputs are the unpadded model's, row for row."""
    from src.inference.predictors import CheckpointPredictor
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_seed(0)
    model = HMR(SMPL(body_model_pkl), backbone_depth=18, backbone_width=8, pose_head="rot6d",
                mean_params=_mean_params("rot6d"))
    images = np.random.default_rng(4).normal(size=(3, 3, 64, 64)).astype(np.float32)
    expected = CheckpointPredictor(model).run_all(images)
    rows = []
    call = HMR.__call__

    def recording(cell, *args):
        rows.append(args[0].shape[0])
        return call(cell, *args)
    try:
        HMR.__call__ = recording
        padded = CheckpointPredictor(model, pad_to=4).run_all(images)
    finally:
        HMR.__call__ = call
        ms.set_context(mode=ms.PYNATIVE_MODE)
    assert rows == [4]
    for got, want in zip(padded, expected):
        assert got.shape == want.shape and got.shape[0] == 3
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
