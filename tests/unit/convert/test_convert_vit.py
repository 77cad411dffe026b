"""``--from hmr2 | vitpose | hap`` against PyTorch models with 4D-Humans' / ViTPose's / HAP's names
(``tests/reference/torch_hmr2.py``): random weights at reduced depth, compared through the model path
``eval.py`` takes (the written config, build_model, load_model_weights, the checkpoint predictor);
the full-size ViT-H HMR 2.0's names and shapes one to one."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

torch = pytest.importorskip("torch")

# ViT-B width (its head count is read from the width), reduced depth; a small decoder
SMALL = dict(embed_dim=768, depth=2, num_heads=12, decoder_dim=128, decoder_depth=2, decoder_heads=2,
             decoder_dim_head=64)


class CfgNode(dict):
    """Stands for yacs' CfgNode in a Lightning checkpoint's hyper-parameters (a class the converter
    must not need)."""


@pytest.fixture(scope="module")
def hmr2_body_model(body_model_pkl, tmp_path_factory):
    """4D-Humans' SMPL wrapper on the synthetic body model, with a fabricated extra joint regressor
    pickle (``SMPL_to_J19.pkl``: 19 rows over the 6890 vertices)."""
    import pickle
    from tests.reference.torch_hmr2 import smpl_wrapper
    extra = tmp_path_factory.mktemp("hmr2_smpl") / "SMPL_to_J19.pkl"
    rows = np.random.default_rng(0).dirichlet(np.ones(6890) * 0.01, size=19)
    extra.write_bytes(pickle.dumps(rows, protocol=2))
    return smpl_wrapper(body_model_pkl, str(extra))


def _hmr2_reference(seed, smpl=None):
    from tests.reference.torch_hmr2 import HMR2
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    network = HMR2(rng.normal(0, 0.5, 144), rng.normal(0, 0.5, 10), [0.9, 0.02, -0.05], smpl=smpl, **SMALL).eval()
    with torch.no_grad():
        for linear in (network.smpl_head.decpose, network.smpl_head.decshape, network.smpl_head.deccam):
            linear.weight.mul_(0.05)
        for name, tensor in network.named_parameters():
            if name.endswith("norm.weight") or ".norm1." in name or ".norm2." in name or "last_norm" in name:
                tensor.add_(torch.randn(tensor.shape) * 0.1)
    return network


def _lightning_checkpoint(network, path):
    """``network`` saved as 4D-Humans' Lightning trainer saves ``HMR2``: its whole ``state_dict()`` (weights
    and every registered buffer) with the trainer's other top-level entries."""
    state = network.state_dict()
    torch.save({"epoch": 35, "global_step": 1000000, "pytorch-lightning_version": "2.1.0", "state_dict": state,
                "hyper_parameters": {"cfg": CfgNode(MODEL=CfgNode(IMAGE_SIZE=256))}, "optimizer_states": [{}],
                "callbacks": {}}, path)
    return path


def _close(got, want):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(want).max())))


def _load_converted(config_path, body_model_pkl, discriminator=None):
    """(config, model) as eval.py and train.py build them from a converted config (written config ->
    build_model -> load_model_weights, which also fills ``discriminator`` from the file)."""
    from model_utils.config import load_config
    from HMR import SMPL
    from src.builders import build_model
    from src.checkpoints import load_model_weights
    config = load_config(["--config_path", config_path])
    model = build_model(config, SMPL(body_model_pkl))
    load_model_weights(config.checkpoint_file_path, model, discriminator)
    model.set_train(False)
    return config, model


def _predict(config_path, body_model_pkl, images):
    """(config, theta (B, 85)) from eval.py's model path for a converted config."""
    from src.inference.predictors import build_predictor
    config, model = _load_converted(config_path, body_model_pkl)
    return config, build_predictor(config, model).run_all(images)[0]


def test_hmr2_lightning_checkpoint_matches_pytorch_through_the_eval_model_path(body_model_pkl, hmr2_body_model,
                                                                               tmp_path):
    """Every key ``HMR2`` registers is in the file (``initialized`` and the body model's buffers among them);
    the non-weight ones are skipped and named."""
    from src.convert.convert import convert
    network = _hmr2_reference(0, hmr2_body_model)
    buffers = {"initialized", "smpl.joint_regressor_extra", "smpl.joint_map", "smpl.shapedirs", "smpl.faces_tensor",
               "smpl.vertex_joint_selector.extra_joints_idxs"}
    assert buffers <= set(network.state_dict())
    images = np.random.default_rng(1).normal(size=(2, 3, 256, 256)).astype(np.float32)
    with torch.no_grad():
        rotmats, betas, cam = (t.numpy() for t in network(torch.from_numpy(images)))
    source = _lightning_checkpoint(network, tmp_path / "epoch=35-step=1000000.ckpt")
    result = convert("hmr2", str(source), str(tmp_path / "hmr2.ckpt"))
    assert set(result["skipped"]) == {k for k in network.state_dict() if k == "initialized" or k.startswith("smpl.")}
    config, theta = _predict(result["config"], body_model_pkl, images)
    assert (config.architecture, config.backbone, config.vit_depth, config.img_size, config.img_width) == \
        ("hmr2", "vit_b16", 2, 256, 0)
    assert (config.decoder_depth, config.decoder_width, config.decoder_heads, config.regressor_iterations) == \
        (2, 128, 2, 1)
    _close(theta[:, :3], cam)
    _close(theta[:, 75:], betas)
    _close(Rotation.from_rotvec(theta[:, 3:75].reshape(-1, 3)).as_matrix().reshape(2, 24, 3, 3), rotmats)


def test_hmr2_discriminator_converts_to_the_same_scores(body_model_pkl, tmp_path):
    """The converted ``disc.*``, loaded as training starts from the checkpoint into the discriminator training
    builds for the converted config, scores any pose and shape as 4D-Humans' discriminator does, column
    for column ([23 joints | betas | all joints])."""
    import mindspore as ms
    from model_utils.config import load_config
    from src.builders import build_discriminator
    from src.convert.convert import convert
    network = _hmr2_reference(2)
    with torch.no_grad():
        for tensor in network.discriminator.parameters():
            tensor.copy_(torch.randn(tensor.shape) * 0.2)
    result = convert("hmr2", str(_lightning_checkpoint(network, tmp_path / "hmr2.ckpt")), str(tmp_path / "out.ckpt"))
    ours = build_discriminator(load_config(["--config_path", result["config"]]))
    _load_converted(result["config"], body_model_pkl, ours)
    rng = np.random.default_rng(3)
    rotmats = Rotation.from_rotvec(rng.normal(0, 0.7, (4 * 24, 3))).as_matrix().reshape(4, 24, 3, 3)
    betas = rng.normal(size=(4, 10))
    with torch.no_grad():
        want = network.discriminator(torch.as_tensor(rotmats[:, 1:], dtype=torch.float32),
                                     torch.as_tensor(betas, dtype=torch.float32)).numpy()
    got = ours(ms.Tensor(rotmats.astype(np.float32)), ms.Tensor(betas.astype(np.float32))).asnumpy()
    _close(got, want)


def test_hmr2_checkpoint_with_a_foreign_key_is_refused(tmp_path):
    from model_utils.errors import UserInputError
    from src.convert.convert import convert
    network = _hmr2_reference(4)
    state = dict(network.state_dict(), **{"mano_head.weight": torch.zeros(3)})
    torch.save({"state_dict": state}, tmp_path / "bad.ckpt")
    with pytest.raises(UserInputError, match=r"unexpected key 'mano_head.weight' \(shape \(3,\)\)"):
        convert("hmr2", str(tmp_path / "bad.ckpt"), str(tmp_path / "out.ckpt"))
    state = {k: v for k, v in network.state_dict().items() if k != "smpl_head.decshape.bias"}
    torch.save({"state_dict": state}, tmp_path / "short.ckpt")
    with pytest.raises(UserInputError, match=r"missing 'model.regressor.decshape.bias' \(expected shape \(10,\)\)"):
        convert("hmr2", str(tmp_path / "short.ckpt"), str(tmp_path / "out.ckpt"))


def test_full_size_vit_h_hmr2_maps_one_to_one_onto_the_reference_keys(body_model_pkl):
    """HMR 2.0 as released (ViT-H/16 32 blocks, 6-layer decoder, discriminator) built here from the
    config --from hmr2 writes for it: every reference tensor has one parameter of its shape."""
    from model_utils.config import load_config
    from HMR import SMPL
    from HMR.discriminator import Discriminator
    from src.builders import build_model
    from src.convert.vit_formats import discriminator_arrays
    from src.checkpoints import structural_parameters
    from tests.reference.torch_hmr2 import HMR2
    with torch.device("meta"):
        reference = HMR2(np.zeros(144), np.zeros(10), np.zeros(3))
    shapes = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    assert shapes["backbone.blocks.31.attn.qkv.weight"] == (3840, 1280) and shapes["backbone.pos_embed"] == \
        (1, 193, 1280)
    config = load_config(["--architecture", "hmr2", "--backbone", "vit_h16", "--pose_head", "rot6d",
                          "--regressor_iterations", "1", "--img_size", "256", "--decoder_depth", "6"])
    model = build_model(config, SMPL(body_model_pkl))
    ours = {k: tuple(p.shape) for k, p in structural_parameters(model).items() if not k.startswith("smpl.")}
    renamed = {"backbone.": "encoder.", "smpl_head.": "regressor."}
    theirs = {renamed[prefix] + k[len(prefix):]: v for k, v in shapes.items()
              for prefix in renamed if k.startswith(prefix)}
    assert ours == theirs
    assert sum(np.prod(v) for v in ours.values()) > 6.3e8                 # ViT-H alone has 631 M
    disc = {k: np.zeros(v, np.float32) for k, v in shapes.items() if k.startswith("discriminator.")}
    mapped = {k: v.shape for k, v in discriminator_arrays({k[len("discriminator."):]: v for k, v in disc.items()},
                                                          "ref").items()}
    assert mapped == {f"disc.{k}": tuple(p.shape) for k, p in structural_parameters(Discriminator()).items()}


def _vit_reference(seed, depth=2, **kwargs):
    from tests.reference.torch_hmr2 import ViT
    torch.manual_seed(seed)
    network = ViT((256, 192), 768, depth, 12, **kwargs).eval()
    with torch.no_grad():
        for name, tensor in network.named_parameters():
            if "norm" in name:
                tensor.add_(torch.randn(tensor.shape) * 0.1)
    return network


def _encoder_features(config_path, body_model_pkl, images):
    """(config, pooled encoder features (B, C)) of the model a converted backbone config builds."""
    import mindspore as ms
    config, model = _load_converted(config_path, body_model_pkl)
    return config, model.encode(ms.Tensor(images)).asnumpy()


def test_vitpose_backbone_initialises_the_encoder(body_model_pkl, tmp_path):
    """mmpose's ViTPose-B ``state_dict`` (``backbone.*`` + the unused ``keypoint_head.*``): the encoder's
    token map equals ViTPose's features, pooled (the config pairs it with the iterative head)."""
    from src.convert.convert import convert
    network = _vit_reference(5)
    state = {f"backbone.{k}": v for k, v in network.state_dict().items()}
    state["keypoint_head.final_layer.weight"] = torch.zeros(17, 256, 1, 1)
    torch.save({"meta": {}, "state_dict": state}, tmp_path / "vitpose_base.pth")
    result = convert("vitpose", str(tmp_path / "vitpose_base.pth"), str(tmp_path / "vitpose.ckpt"))
    images = np.random.default_rng(6).normal(size=(2, 3, 256, 192)).astype(np.float32)
    with torch.no_grad():
        want = network(torch.from_numpy(images)).numpy().mean((2, 3))
    config, got = _encoder_features(result["config"], body_model_pkl, images)
    assert (config.backbone, config.vit_depth, config.vit_patch_padding, config.img_width) == ("vit_b16", 2, 2, 192)
    _close(got, want)


def test_hap_pretraining_checkpoint_resizes_its_position_grid(body_model_pkl, tmp_path):
    """HAP's MAE-style ViT-B (class token, 16 x 8 position grid of its 256 x 128 pre-training, ``norm``,
    MAE decoder): the encoder equals ViTPose's ViT initialised as ViTPose does from such weights -
    the grid resized bicubically to 16 x 12 with the class slot kept, padding 2, ``norm`` as last norm."""
    import torch.nn.functional as F
    from src.convert.convert import convert
    network = _vit_reference(7)
    state = {k.replace("last_norm.", "norm."): v for k, v in network.state_dict().items()}
    torch.manual_seed(8)
    pretrain_grid = torch.randn(1, 1 + 16 * 8, 768) * 0.1
    state.update(pos_embed=pretrain_grid, cls_token=torch.zeros(1, 1, 768), mask_token=torch.zeros(1, 1, 512),
                 **{"decoder_embed.weight": torch.zeros(512, 768), "decoder_pred.weight": torch.zeros(768, 512)})
    torch.save({"model": state, "epoch": 399}, tmp_path / "hap_base.pth")
    result = convert("hap", str(tmp_path / "hap_base.pth"), str(tmp_path / "hap.ckpt"))
    grid = pretrain_grid[:, 1:].reshape(1, 16, 8, 768).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(16, 12), mode="bicubic", align_corners=False).permute(0, 2, 3, 1)
    with torch.no_grad():
        network.pos_embed.copy_(torch.cat([pretrain_grid[:, :1], grid.reshape(1, 192, 768)], 1))
    images = np.random.default_rng(9).normal(size=(2, 3, 256, 192)).astype(np.float32)
    with torch.no_grad():
        want = network(torch.from_numpy(images)).numpy().mean((2, 3))
    _, got = _encoder_features(result["config"], body_model_pkl, images)
    _close(got, want)


def test_hap_2d_checkpoint_initialises_the_crowdnet_vit(body_model_pkl, body_model_dir, tmp_path):
    """HAP's 2D pose checkpoint (mmpose ViTPose: ``backbone.*``, ViTPose+ ``mlp.experts`` and ``keypoint_head.*``)
    as HAP's 3D model loads it: experts and head dropped, the 16 x 12 grid resized bicubically to 16 x 16. The
    crowdnet model built from the written config, its weights loaded as train.py loads them, gives the features
    of the same ViT in PyTorch at 256 x 256 with HAP's ``interpolate_pos_embed`` applied."""
    import mindspore as ms
    import torch.nn.functional as F
    from model_utils.config import load_config
    from HMR import SMPL
    from src.builders import build_model
    from src.checkpoints import load_model_weights
    from src.convert.convert import convert
    from tests.reference.torch_hmr2 import ViT
    source = _vit_reference(11)
    state = {f"backbone.{k}": v for k, v in source.state_dict().items()}
    state["backbone.blocks.0.mlp.experts.0.weight"] = torch.zeros(192, 3072)
    state["keypoint_head.final_layer.weight"] = torch.zeros(17, 256, 1, 1)
    torch.save({"meta": {}, "state_dict": state}, tmp_path / "hap_2d.pth")
    result = convert("hap2d", str(tmp_path / "hap_2d.pth"), str(tmp_path / "hap2d.ckpt"))
    # HAP's interpolate_pos_embed, written out here
    grid = source.pos_embed[:, 1:].detach().reshape(1, 16, 12, 768).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(16, 16), mode="bicubic", align_corners=False).permute(0, 2, 3, 1)
    network = ViT((256, 256), 768, 2, 12).eval()
    weights = {k: v for k, v in source.state_dict().items() if k != "pos_embed"}
    weights["pos_embed"] = torch.cat([source.pos_embed[:, :1].detach(), grid.reshape(1, 256, 768)], 1)
    network.load_state_dict(weights)
    config = load_config(["--config_path", result["config"], "--crowdnet_feature_dim", "64",
                          "--data_path", str(body_model_dir)])
    assert (config.architecture, config.backbone, config.img_size, config.img_width, config.image_normalization) == \
        ("crowdnet", "vit_b16", 256, 0, "unit")
    model = build_model(config, SMPL(body_model_pkl))
    load_model_weights(config.checkpoint_file_path, model)
    model.set_train(False)
    images = np.random.default_rng(12).normal(size=(2, 3, 256, 256)).astype(np.float32)
    with torch.no_grad():
        want = network(torch.from_numpy(images)).numpy()
    backbone = model.backbone                      # 3DCrowdNet runs it in two halves, the 2D pose fused between
    _close(backbone.late(backbone.early(ms.Tensor(images))).asnumpy(), want)
