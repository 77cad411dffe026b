"""The ViT backbone and HMR 2.0's decoder head against a PyTorch mirror of 4D-Humans' modules
(``tests/reference/torch_hmr2.py``), name for name; torch's exact GELU; stochastic depth by a hand case."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")


def _copy_into(cell, state, prefix=""):
    """torch ``state`` ({name: tensor}) into ``cell``'s parameters of the same attribute paths."""
    import mindspore as ms
    from src.checkpoints import structural_parameters
    params = structural_parameters(cell)
    names = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    assert sorted(params) == sorted(names)
    for name, param in params.items():
        value = names[name].detach().numpy()
        assert tuple(param.shape) == value.shape, name
        param.set_data(ms.Tensor(value.astype(np.float32)))


def _randomise(module, seed):
    """Every parameter and buffer of a torch module drawn at a scale that exercises the layers."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
            scale = 1.0 if "norm" in name and name.endswith("weight") else 0.1
            tensor.copy_(torch.randn(tensor.shape, generator=gen) * scale + (1.0 if scale == 1.0 else 0.0))


def test_gelu_is_torch_exact_gelu():
    import mindspore as ms
    from HMR.transformer import gelu
    x = np.linspace(-9, 9, 20001).astype(np.float32)
    want = torch.nn.functional.gelu(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(gelu(ms.Tensor(x)).asnumpy(), want, rtol=1e-7, atol=1e-6)   # float32 ulps at |x| ~ 9


def test_vit_matches_the_vitpose_reference():
    import mindspore as ms
    from HMR.backbones.vit import ViT
    from tests.reference.torch_hmr2 import ViT as TorchViT
    reference = TorchViT((64, 48), embed_dim=64, depth=2, num_heads=4, padding=2).eval()
    _randomise(reference, 0)
    ours = ViT("vit_b16", (64, 48), width=64, depth=2, heads=4, patch_padding=2, drop_path_rate=0.3)
    _copy_into(ours, reference.state_dict())
    ours.set_train(False)
    images = np.random.default_rng(0).normal(size=(3, 3, 64, 48)).astype(np.float32)
    with torch.no_grad():
        want = reference(torch.from_numpy(images)).numpy()
    got = ours(ms.Tensor(images)).asnumpy()
    assert got.shape == (3, 64, 4, 3) == want.shape             # padding 2: 64 x 48 -> 4 x 3 tokens
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def test_stochastic_depth_drops_branches_by_the_noise():
    """Rates rise linearly from 0 (block 0) to 0.5 (block 1). A sample whose noise is 0 loses block 1's
    branches (block 0, at rate 0, always runs); one whose noise is 1 keeps them, scaled by 1 / (1 - 0.5)."""
    import mindspore as ms
    from HMR.backbones.vit import ViT
    ours = ViT("vit_b16", (32, 32), width=32, depth=2, heads=2, patch_padding=0, drop_path_rate=0.5)
    images = ms.Tensor(np.random.default_rng(1).normal(size=(2, 3, 32, 32)).astype(np.float32))
    noise = np.ones((2, 2, 2), np.float32)                      # (branch, sample, block)
    noise[:, 0] = 0.0
    got = ours(images, ms.Tensor(noise)).asnumpy()

    def as_map(tokens):
        return ours.last_norm(tokens).transpose(0, 2, 1).reshape(2, 32, 2, 2).asnumpy()

    tokens = ours.patch_embed(images).reshape(2, 32, 4).transpose(0, 2, 1) + ours.pos_embed[:, 1:] + \
        ours.pos_embed[:, :1]
    first = ours.blocks[0](tokens)
    second = ours.blocks[1]
    attended = first + second.attn(second.norm1(first)) * 2.0
    kept = attended + second.mlp(second.norm2(attended)) * 2.0
    np.testing.assert_allclose(got[0], as_map(first)[0], atol=1e-5)
    np.testing.assert_allclose(got[1], as_map(kept)[1], atol=1e-5)
    assert np.abs(got[1] - as_map(second(first))[1]).max() > 1e-3       # the scaling is there


def test_decoder_head_matches_smpl_transformer_decoder_head():
    """Rotations through HMR 2.0's own 6D layout (not SPIN's), betas and camera."""
    import mindspore as ms
    from HMR.geometry import rot6d_to_rotmat
    from HMR.heads.transformer_decoder import SMPLTransformerDecoderHead
    from tests.reference.torch_hmr2 import SMPLTransformerDecoderHead as TorchHead
    rng = np.random.default_rng(2)
    init = rng.normal(size=144), rng.normal(size=10), rng.normal(size=3)
    reference = TorchHead(*init, context_dim=48, dim=64, depth=2, heads=2, dim_head=16, mlp_dim=80).eval()
    _randomise(reference, 3)
    ours = SMPLTransformerDecoderHead(48, *init, 1, depth=2, heads=2, dim_head=16, dim=64, mlp_dim=80)
    _copy_into(ours, reference.state_dict())
    ours.set_train(False)
    features = rng.normal(size=(3, 48, 4, 3)).astype(np.float32)
    with torch.no_grad():
        rotmats, betas, cam = (t.numpy() for t in reference(torch.from_numpy(features)))
    got_cam, pose6d, got_betas, _, _ = ours(ms.Tensor(features))
    got_rotmats = rot6d_to_rotmat(pose6d.reshape(3, 24, 6), "hmr2").asnumpy()
    for got, want in ((got_rotmats, rotmats), (got_betas.asnumpy(), betas), (got_cam.asnumpy(), cam)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(want).max()))
    spin = rot6d_to_rotmat(pose6d.reshape(3, 24, 6)).asnumpy()
    assert np.abs(spin - rotmats).max() > 0.1                    # the layouts differ


def test_hmr2_camera_projects_as_4d_humans():
    """(s, tx, ty) -> t = (tx, ty, 2 f / (256 s)), f = 5000, projected with focal f / 256 about the
    crop centre into [-1/2, 1/2], doubled into this project's [-1, 1]."""
    import mindspore as ms
    from HMR.geometry import crop_perspective_projection
    rng = np.random.default_rng(4)
    points = rng.normal(0, 0.5, (2, 5, 3))
    cam = np.array([[0.9, 0.1, -0.2], [1.3, -0.05, 0.3]])
    depth = 2 * 5000.0 / (256 * cam[:, 0])
    t = np.concatenate([cam[:, 1:], depth[:, None]], 1)[:, None]
    want = 2 * (5000.0 / 256) * (points + t)[..., :2] / (points + t)[..., 2:3]
    got = crop_perspective_projection(ms.Tensor(points.astype(np.float32)), ms.Tensor(cam.astype(np.float32)),
                                      5000.0 / 256).asnumpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_hmr2_recipe_is_4d_humans_config():
    """The recipe file carries hmr_vit_transformer.yaml's numbers (HMR_FACTS) in this project's keys."""
    import os
    from model_utils.config import load_config
    from conftest import ROOT
    config = load_config(["--config_path", os.path.join(ROOT, "src", "training", "recipes", "hmr2_vit_h.yaml")])
    assert (config.architecture, config.backbone, config.img_size, config.drop_path_rate) == ("hmr2", "vit_h16", 256,
                                                                                                0.55)
    assert (config.encoder_lr, config.weight_decay, config.optimizer) == (1e-5, 1e-4, "adamw")
    assert (config.joint3d_loss_weight, config.smpl_loss_weight, config.adversarial_loss_weight) == \
        (0.05, 0.001, 0.0005)
    assert config.keypoint_loss_weight * 2 == 0.01             # [-1, 1] keypoints: twice 4D-Humans' distances
