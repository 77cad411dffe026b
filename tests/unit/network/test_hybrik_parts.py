"""HybrIK's integral regression, flip of the heatmap volumes and camera against the PyTorch mirror of
``hybrik/models/HRNetWithCam.py`` (``tests/reference/torch_hybrik.py``), and hand-computed cases."""
import numpy as np
import pytest


@pytest.fixture(scope="module")
def logits():
    rng = np.random.default_rng(3)
    return (rng.normal(0, 2.0, (2, 29, 8, 8, 8))).astype(np.float32)


def test_integral_regression_equals_hybriks(logits):
    import mindspore as ms
    import torch
    from HMR.heads.integral import integrate_volumes, softmax_volumes
    from tests.reference.torch_hybrik import integral_uvd
    uvd, peak = integrate_volumes(softmax_volumes(ms.Tensor(logits)))
    want_uvd, want_peak = integral_uvd(torch.tensor(logits))
    np.testing.assert_allclose(uvd.asnumpy(), want_uvd.numpy(), atol=1e-6)
    np.testing.assert_allclose(peak.asnumpy(), want_peak.numpy(), rtol=1e-5)


def test_a_one_voxel_volume_gives_its_coordinates():
    """All mass at (d, h, w) = (6, 1, 3) of an 8-voxel cube: u = 3/8 - 0.5, v = 1/8 - 0.5, d = 6/8 - 0.5."""
    import mindspore as ms
    from HMR.heads.integral import integrate_volumes
    volume = np.zeros((1, 1, 8, 8, 8), np.float32)
    volume[0, 0, 6, 1, 3] = 1.0
    uvd, peak = integrate_volumes(ms.Tensor(volume))
    np.testing.assert_allclose(uvd.asnumpy()[0, 0], [3 / 8 - 0.5, 1 / 8 - 0.5, 6 / 8 - 0.5], atol=1e-7)
    assert peak.asnumpy()[0, 0, 0] == 1.0


def test_flip_of_the_volumes_equals_hybriks(logits):
    import mindspore as ms
    import torch
    from HMR.heads.integral import flip_volumes
    from tests.reference.torch_hybrik import JOINT_PAIRS_29, flip_heatmap
    got = flip_volumes(ms.Tensor(logits), JOINT_PAIRS_29).asnumpy()
    np.testing.assert_array_equal(got, flip_heatmap(torch.tensor(logits)).numpy())


def test_back_projection_and_root_equal_hybriks():
    import mindspore as ms
    import torch
    from HMR.cameras.hybrik_camera import back_project, box_offset, camera_depth, camera_root
    from tests.reference.torch_hybrik import back_project as reference
    rng = np.random.default_rng(4)
    uvd = rng.uniform(-0.5, 0.5, (3, 29, 3)).astype(np.float32)
    scale = rng.uniform(0.5, 1.2, (3, 1, 1)).astype(np.float32)
    corner = rng.uniform(0, 400, (3, 2))
    boxes = np.concatenate([corner, corner + rng.uniform(50, 300, (3, 1))], 1).astype(np.float32)
    centre = np.array([[320, 240], [640, 360], [100, 100]], np.float32)
    depth = camera_depth(ms.Tensor(scale), 1000.0, 256.0)
    joints = back_project(ms.Tensor(uvd), depth, box_offset(ms.Tensor(boxes), ms.Tensor(centre)), 1000.0, 256.0, 2.2)
    root = camera_root(joints, depth, 2.2)
    want_joints, want_root = reference(torch.tensor(uvd), torch.tensor(scale), torch.tensor(boxes), torch.tensor(centre))
    np.testing.assert_allclose((joints - joints[:, :1]).asnumpy(), want_joints.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(root.asnumpy(), want_root.numpy(), rtol=1e-5, atol=1e-5)


def test_scale_refit_equals_hybriks_solve_and_recovers_a_known_scale():
    """Joints made to project exactly with scale 0.8 give 0.8 back, whatever the weights; noisy ones give
    HybrIK's ``inverse(A^T A) A^T b``."""
    import mindspore as ms
    import torch
    from HMR.cameras.hybrik_camera import refit_scale
    from tests.reference.torch_hybrik import update_scale_solve
    rng = np.random.default_rng(5)
    uv = rng.uniform(-0.4, 0.4, (2, 24, 2))
    z = rng.normal(0, 0.2, (2, 24, 1))
    scale, focal, size = 0.8, 1000.0, 256.0
    xy = uv * size / focal * z + uv / scale                          # x - (size / f) u z = u / s exactly
    joints = np.concatenate([xy, z], -1).astype(np.float32)
    weight = rng.uniform(0, 1, (2, 24, 1)).astype(np.float32)
    got = refit_scale(ms.Tensor(uv.astype(np.float32)), ms.Tensor(joints), ms.Tensor(weight), focal, size).asnumpy()
    np.testing.assert_allclose(got, 0.8, rtol=1e-5)
    noisy = joints + rng.normal(0, 0.02, joints.shape).astype(np.float32)
    got = refit_scale(ms.Tensor(uv.astype(np.float32)), ms.Tensor(noisy), ms.Tensor(weight), focal, size).asnumpy()
    uvd = np.concatenate([uv, np.zeros_like(z)], -1).astype(np.float32)
    want = update_scale_solve(torch.tensor(uvd), torch.tensor(noisy), torch.tensor(weight)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_hybrik_hrnet_equals_hybriks_pytorch_network():
    """HybrIK's HRNet (width 8, 29 joints x 8 depth bins) with the same weights as its PyTorch mirror:
    the same heatmap logits and pooled features; parameter names map one to one."""
    import mindspore as ms
    import torch
    from HMR.backbones.hybrik_hrnet import HybrIKHRNet
    from src.checkpoints import structural_parameters
    from src.convert.convert import _map_cliff
    from tests.reference.torch_hrnet import HybrIKHighResolutionNet, randomise_batch_norm_statistics
    torch.manual_seed(0)
    reference = HybrIKHighResolutionNet(8, 29, 8)
    randomise_batch_norm_statistics(reference)
    net = HybrIKHRNet(8, 29, 8)
    expected = {f"encoder.{k}": tuple(p.shape) for k, p in structural_parameters(net).items()}
    mapped = _map_cliff({f"encoder.{k}": v.numpy() for k, v in reference.state_dict().items()}, "reference", expected)
    assert set(mapped) == set(expected)
    ms.load_param_into_net(net, {k[len("encoder."):]: ms.Parameter(ms.Tensor(v)) for k, v in mapped.items()})
    net.set_train(False)
    images = np.random.default_rng(2).normal(size=(2, 3, 64, 64)).astype(np.float32)
    heatmaps, features = net(ms.Tensor(images))
    with torch.no_grad():
        want_heatmaps, want_features = reference(torch.as_tensor(images))
    assert heatmaps.shape == (2, 29 * 8, 16, 16) and features.shape == (2, 2048)
    np.testing.assert_allclose(heatmaps.asnumpy(), want_heatmaps.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(features.asnumpy(), want_features.numpy(), rtol=1e-4, atol=1e-4)
