"""Weight converters: SPIN, mmpose and torchvision checkpoints give the PyTorch outputs in MindSpore."""
import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from conftest import ROOT


def _randomise_batchnorm(model):
    """Non-trivial BatchNorm statistics and affine parameters (eval mode then matters)."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
                module.num_batches_tracked.fill_(1000)


def _spin_reference(seed):
    """A SPIN-named HMR (Meta-HMR's HmrMetaNet / HmrAuxNet_resnet use the same names) with random weights."""
    from tests.reference.torch_spin import SpinHMR
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    six = np.tile(np.array([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]), 24) + rng.normal(0, 0.1, 144)
    model = SpinHMR(six, rng.normal(0, 0.5, 10), [0.9, 0.02, -0.05])
    _randomise_batchnorm(model)
    with torch.no_grad():
        for linear in (model.decpose, model.decshape, model.deccam):
            linear.weight.mul_(0.05)
    return model.eval()


@pytest.fixture(scope="module")
def reference():
    """SPIN's model with random weights and non-trivial BatchNorm statistics, in eval mode."""
    model = _spin_reference(0)
    images = np.random.default_rng(0).normal(size=(2, 3, 224, 224)).astype(np.float32)
    with torch.no_grad():
        outputs = [o.numpy() for o in model(torch.as_tensor(images))]
    return model, images, dict(zip(("features", "rotmats", "betas", "cam"), outputs))


def _save(tmp_path, model, fmt):
    state = model.state_dict()
    path = tmp_path / f"{fmt}.pth"
    if fmt == "spin":
        torch.save({"model": state, "optimizer": {}}, path)
    elif fmt == "mmpose":
        backbone = {f"backbone.{k}": v for k, v in state.items() if not k.startswith(("fc", "dec", "init_"))}
        head = {f"mesh_head.{k}": v for k, v in state.items() if k.startswith(("fc", "dec", "init_"))}
        duplicates = {k.replace("backbone.", "generator.0.").replace("mesh_head.", "generator.1."): v
                      for k, v in {**backbone, **head}.items()}
        extra = {"smpl.v_template": torch.zeros(6890, 3), "discriminator.fc.weight": torch.zeros(1, 10)}
        torch.save({"state_dict": {**backbone, **head, **duplicates, **extra}, "meta": {"epoch": 1}}, path)
    else:
        backbone = {k: v for k, v in state.items() if not k.startswith(("fc", "dec", "init_"))}
        torch.save({**backbone, "fc.weight": torch.zeros(1000, 2048), "fc.bias": torch.zeros(1000)}, path)
    return path


def _mindspore_outputs(body_model_pkl, checkpoint, config_path, images):
    import mindspore as ms
    from model_utils.config import load_config
    from HMR import SMPL
    from src.builders import build_model
    from src.checkpoints import load_model_weights
    config = load_config(["--config_path", str(config_path)])
    model = build_model(config, SMPL(body_model_pkl))
    load_model_weights(str(checkpoint), model)
    model.set_train(False)
    x = ms.Tensor(images)
    features = model.encoder(x).asnumpy()
    cam, _, betas, rotmats = (o.asnumpy() for o in model(x)[:4])
    return {"features": features, "rotmats": rotmats, "betas": betas, "cam": cam}, config


def _close(got, want):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * float(np.abs(want).max()))


@pytest.mark.parametrize("fmt", ["spin", "mmpose"])
def test_full_model_matches_pytorch(reference, body_model_pkl, tmp_path, fmt):
    from src.convert.convert import convert
    model, images, expected = reference
    result = convert(fmt, str(_save(tmp_path, model, fmt)), str(tmp_path / f"{fmt}.ckpt"))
    assert result["config"] == str(tmp_path / f"{fmt}.yaml")
    got, config = _mindspore_outputs(body_model_pkl, result["checkpoint"], result["config"], images)
    assert config.pose_head == "rot6d" and config.image_normalization == "imagenet"
    assert config.checkpoint_file_path == str(tmp_path / f"{fmt}.ckpt")
    for key in ("features", "rotmats", "betas", "cam"):
        _close(got[key], expected[key])


def test_torchvision_resnet50_initialises_the_encoder(reference, body_model_pkl, tmp_path):
    model, images, expected = reference
    out = tmp_path / "imagenet.ckpt"
    result = subprocess.run([sys.executable, "-m", "src.convert", "--from", "torchvision-resnet50", "--input",
                             str(_save(tmp_path, model, "torchvision")), "--output", str(out)], cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    got, _ = _mindspore_outputs(body_model_pkl, out, tmp_path / "imagenet.yaml", images)
    _close(got["features"], expected["features"])


def test_bad_keys_stop_the_conversion_with_names_and_shapes(reference, tmp_path):
    from model_utils.errors import UserInputError
    from src.convert.convert import convert
    model = reference[0]
    state = model.state_dict()
    cases = {
        "missing": ({k: v for k, v in state.items() if k != "layer2.1.bn2.running_var"},
                    r"missing 'encoder.layer2.1.bn2.moving_variance' \(expected shape \(128,\)\)"),
        "unexpected": ({**state, "head.extra.weight": torch.zeros(3, 4)},
                       r"unexpected key 'head.extra.weight' \(shape \(3, 4\)\)"),
        "shape": ({**state, "decshape.weight": torch.zeros(11, 1024)},
                  r"'regressor.decshape.weight' has shape \(11, 1024\), expected \(10, 1024\)"),
    }
    for name, (bad_state, message) in cases.items():
        path = tmp_path / f"{name}.pt"
        torch.save({"model": bad_state}, path)
        with pytest.raises(UserInputError, match=message):
            convert("spin", str(path), str(tmp_path / f"{name}.ckpt"))
        assert not (tmp_path / f"{name}.ckpt").exists()
    with pytest.raises(UserInputError, match=r"expected a 'state_dict' state dict at the top level"):
        convert("mmpose", str(tmp_path / "missing.pt"), str(tmp_path / "x.ckpt"))


def _cliff_reference(kind, seed):
    """CLIFF's ResNet-50 or HRNet-W48 model with random weights, non-trivial BatchNorm, eval mode."""
    from tests.reference.torch_cliff import CliffResNet50
    from tests.reference.torch_hrnet import CliffHRNet
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    six = np.tile(np.array([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]), 24) + rng.normal(0, 0.1, 144)
    reference = {"res50": CliffResNet50, "hr48": CliffHRNet}[kind](six, rng.normal(0, 0.5, 10), [0.9, 0.02, -0.05])
    _randomise_batchnorm(reference)
    with torch.no_grad():
        for linear in (reference.decpose, reference.decshape, reference.deccam):
            linear.weight.mul_(0.05)
    return reference.eval()


@pytest.mark.parametrize("kind,name", [("res50", "res50-PA45.7_MJE72.0_MVE85.3_3dpw.pt"),
                                       ("hr48", "hr48-PA43.0_MJE69.0_MVE81.2_3dpw.pt")])
def test_cliff_release_matches_pytorch_through_the_eval_model_path(body_model_pkl, tmp_path, kind, name):
    """A CLIFF release (``{"model": ...}``, ``module.`` prefixes, ``encoder.*``) converts; the model that
    eval.py builds from the written config (build_model + load_model_weights + CheckpointPredictor)
    gives CLIFF's rotations, betas and camera for the same 256 x 192 crops and bbox_info."""
    from scipy.spatial.transform import Rotation
    from model_utils.config import load_config
    from HMR import SMPL
    from src.builders import build_model
    from src.convert.convert import convert
    from src.inference.predictors import build_predictor
    from src.checkpoints import load_model_weights
    from tests.reference.torch_spin import rot6d_to_rotmat
    reference = _cliff_reference(kind, 1)
    rng = np.random.default_rng(2)
    images = rng.normal(size=(2, 3, 256, 192)).astype(np.float32)
    info = rng.normal(0, 0.5, (2, 3)).astype(np.float32)
    with torch.no_grad():
        pose, betas, cam = (o.numpy() for o in reference(torch.as_tensor(images), torch.as_tensor(info)))
        rotmats = rot6d_to_rotmat(torch.as_tensor(pose)).reshape(2, 24, 3, 3).numpy()
    source = tmp_path / name
    torch.save({"model": {f"module.{k}": v for k, v in reference.state_dict().items()}, "epoch": 1}, source)
    result = convert("cliff", str(source), str(tmp_path / "cliff.ckpt"))
    config = load_config(["--config_path", result["config"]])
    assert (config.architecture, config.pose_head, config.image_normalization) == ("cliff", "rot6d", "imagenet")
    assert (config.img_size, config.img_width) == (256, 192)
    assert config.backbone == {"res50": "resnet", "hr48": "hrnet"}[kind]
    model = build_model(config, SMPL(body_model_pkl))
    load_model_weights(result["checkpoint"], model)
    theta = build_predictor(config.replace(source="ckpt"), model).run_all(images, info)[0]
    got_rotmats = Rotation.from_rotvec(theta[:, 3:75].reshape(-1, 3).astype(np.float64)).as_matrix()
    for got, want in ((got_rotmats.reshape(2, 24, 3, 3), rotmats), (theta[:, 75:], betas), (theta[:, :3], cam)):
        _close(got, want)


def test_incomplete_cliff_hrnet_checkpoint_names_the_missing_key(tmp_path):
    from model_utils.errors import UserInputError
    from src.convert.convert import convert
    state = {k: v for k, v in _cliff_reference("hr48", 0).state_dict().items() if k != "encoder.final_layer.0.bias"}
    source = tmp_path / "hr48-PA43.0_MJE69.0_MVE81.2_3dpw.pt"
    torch.save({"model": state}, source)
    with pytest.raises(UserInputError, match=r"missing 'encoder.final_layer.0.bias' \(expected shape \(2048,\)\)"):
        convert("cliff", str(source), str(tmp_path / "hr.ckpt"))
    assert not (tmp_path / "hr.ckpt").exists()


def test_cliff_needs_the_6d_head():
    from model_utils.config import load_config
    from model_utils.errors import UserInputError
    from src.builders import head_name
    assert head_name(load_config(["--architecture", "cliff", "--pose_head", "rot6d"])) == "cliff"
    with pytest.raises(UserInputError, match=r"--architecture cliff takes --pose_head rot6d \(got axis_angle\)"):
        head_name(load_config(["--architecture", "cliff"]))


def test_metahmr_release_converts_both_networks(body_model_pkl, tmp_path):
    """``hmr_resnet_3dpw.pt`` ({"model", "model_aux", "optimizer", "epoch"}): the main network (10
    iterations) through eval.py's model path and the auxiliary one (3) through the adapter's loader
    give Meta-HMR's PyTorch outputs on the crops Meta-HMR feeds its HMR networks: ``--bbox_type rect``,
    256 x 192 (its ``AvgPool2d((8, 6))`` is then the global mean the reference takes)."""
    from model_utils.config import load_config
    from HMR import SMPL
    from src.builders import build_aux_model, build_model
    from src.convert.convert import convert
    from src.checkpoints import load_aux_weights, load_model_weights
    import mindspore as ms
    main, aux = _spin_reference(3), _spin_reference(4)
    images = np.random.default_rng(5).normal(size=(2, 3, 256, 192)).astype(np.float32)
    with torch.no_grad():
        want = {"model": main(torch.as_tensor(images), n_iter=10), "aux": aux(torch.as_tensor(images), n_iter=3)}
    source = tmp_path / "hmr_resnet_3dpw.pt"
    torch.save({"model": main.state_dict(), "model_aux": aux.state_dict(), "optimizer": {}, "epoch": 7}, source)
    result = convert("metahmr", str(source), str(tmp_path / "metahmr.ckpt"))
    config = load_config(["--config_path", result["config"]])
    assert (config.regressor_iterations, config.aux_iterations, config.architecture) == (10, 3, "hmr")
    assert (config.img_size, config.img_width) == (256, 192)
    assert (config.pose_head, config.image_normalization) == ("rot6d", "imagenet")
    smpl = SMPL(body_model_pkl)
    model, aux_model = build_model(config, smpl), build_aux_model(config, smpl)
    load_model_weights(result["checkpoint"], model)
    load_aux_weights(config, aux_model)
    for name, network in (("model", model), ("aux", aux_model)):
        network.set_train(False)
        cam, _, betas, rotmats = (o.asnumpy() for o in network(ms.Tensor(images))[:4])
        _, want_rotmats, want_betas, want_cam = (o.numpy() for o in want[name])
        for got, expected in ((rotmats, want_rotmats), (betas, want_betas), (cam, want_cam)):
            _close(got, expected)


def _cliff_hrnet_release(width):
    """Meta-HMR's ``cliff_hrnet_*.pt`` layout at HRNet width ``width``: ``model`` = CliffMetaNet_hrnet
    (pose HRNet ``backbone.*``, unused heatmap ``final_layer``), ``model_aux`` = CliffAuxNet_hrnet
    (classification HRNet ``encoder.*``), random weights and BatchNorm statistics."""
    from tests.reference.torch_hrnet import CliffHRNet, CliffMetaHRNet
    networks = {}
    for seed, (key, cls) in enumerate((("model", CliffMetaHRNet), ("model_aux", CliffHRNet)), start=6):
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        six = np.tile(np.array([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]), 24) + rng.normal(0, 0.1, 144)
        network = cls(six, rng.normal(0, 0.5, 10), [0.9, 0.02, -0.05], width=width)
        _randomise_batchnorm(network)
        with torch.no_grad():
            for linear in (network.decpose, network.decshape, network.deccam):
                linear.weight.mul_(0.05)
        networks[key] = network.eval()
    return networks


def test_metahmr_cliff_hrnet_release_converts_both_networks(body_model_pkl, tmp_path):
    """``cliff_hrnet_3dpw.pt`` (at width 8 to stay small): the pose-HRNet main network (10 iterations)
    and the classification-HRNet auxiliary one (3) give Meta-HMR's PyTorch outputs for the same
    256 x 192 crops and bbox_info, through build_model / build_aux_model and the checkpoint loaders."""
    from model_utils.config import load_config
    from HMR import SMPL
    from src.builders import build_aux_model, build_model
    from src.convert.convert import convert
    from src.checkpoints import load_aux_weights, load_model_weights
    from tests.reference.torch_spin import rot6d_to_rotmat
    import mindspore as ms
    networks = _cliff_hrnet_release(8)
    rng = np.random.default_rng(7)
    images = rng.normal(size=(2, 3, 256, 192)).astype(np.float32)
    info = rng.normal(0, 0.5, (2, 3)).astype(np.float32)
    want = {}
    with torch.no_grad():
        for key, n_iter in (("model", 10), ("model_aux", 3)):
            pose, betas, cam = networks[key](torch.as_tensor(images), torch.as_tensor(info), n_iter=n_iter)
            want[key] = (rot6d_to_rotmat(pose).reshape(2, 24, 3, 3).numpy(), betas.numpy(), cam.numpy())
    assert networks["model"].fc1.in_features == 15 * 8 + 3 + 157
    source = tmp_path / "cliff_hrnet_3dpw.pt"
    torch.save({key: net.state_dict() for key, net in networks.items()} | {"optimizer": {}, "epoch": 3}, source)
    config = load_config(["--config_path", convert("metahmr", str(source), str(tmp_path / "meta.ckpt"))["config"]])
    assert (config.architecture, config.backbone, config.backbone_width) == ("cliff", "pose_hrnet", 8)
    assert (config.aux_backbone, config.aux_backbone_width, config.img_size, config.img_width) == ("hrnet", 8, 256, 192)
    smpl = SMPL(body_model_pkl)
    model, aux = build_model(config, smpl), build_aux_model(config, smpl)
    load_model_weights(config.checkpoint_file_path, model)
    load_aux_weights(config, aux)
    for key, network in (("model", model), ("model_aux", aux)):
        network.set_train(False)
        cam, _, betas, rotmats = (o.asnumpy() for o in network(ms.Tensor(images), None, ms.Tensor(info))[:4])
        for got, expected in zip((rotmats, betas, cam), want[key]):
            _close(got, expected)


def test_metahmr_pose_hrnet_w48_names_and_shapes_map_one_to_one():
    """Every tensor of Meta-HMR's W48 CLIFF-HRNet main network but the unused heatmap layer maps onto
    the pose_hrnet model with its shape (fc1 880 inputs), and nothing is left over."""
    from tests.reference.torch_hrnet import CliffMetaHRNet
    from src.convert.convert import _metahmr_network
    network = CliffMetaHRNet(np.zeros(144), np.zeros(10), np.zeros(3), width=48)
    state = {k: v.numpy() for k, v in network.state_dict().items()}
    assert state["fc1.weight"].shape == (1024, 880) and state["backbone.final_layer.weight"].shape == (24, 48, 1, 1)
    mapped, condition, backbone, width = _metahmr_network(state, "cliff_hrnet_3dpw.pt", "model")
    assert (condition, backbone, width) == (3, "pose_hrnet", 48)
    kept = [k for k in state if not k.startswith("backbone.final_layer.") and not k.endswith("num_batches_tracked")]
    assert len(mapped) == len(kept)
    assert sum(v.size for k, v in mapped.items() if k.startswith("encoder.")) == \
        sum(state[k].size for k in kept if k.startswith("backbone."))


def test_metahmr_release_with_a_wrong_head_is_refused_with_the_sizes(tmp_path):
    from model_utils.errors import UserInputError
    from src.convert.convert import convert
    source = tmp_path / "cliff_hrnet_3dpw.pt"
    torch.save({"model": {"backbone.transition1.0.0.weight": torch.zeros(48, 256, 3, 3),
                          "fc1.weight": torch.zeros(1024, 2208)}, "model_aux": {}}, source)
    with pytest.raises(UserInputError, match=r"'model.fc1.weight' has 2208 inputs, expected 877 \(HMR\) or 880 "
                                             r"\(CLIFF, with bbox_info\) for its pose_hrnet encoder \(720-d features\)"):
        convert("metahmr", str(source), str(tmp_path / "x.ckpt"))
    assert not (tmp_path / "x.ckpt").exists()
