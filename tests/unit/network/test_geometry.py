"""Rotation helpers against scipy.spatial.transform.Rotation (an independent reference)."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import mindspore as ms
from HMR import geometry


@pytest.fixture(params=["pynative", "graph"])
def run(request):
    """Call a geometry function eagerly or compiled with ms.jit."""
    if request.param == "pynative":
        return lambda fn, *args: fn(*[ms.Tensor(a) for a in args]).asnumpy()
    return lambda fn, *args: ms.jit(fn)(*[ms.Tensor(a) for a in args]).asnumpy()


def _hard_rotvecs(rng):
    """Random rotations plus the delicate cases: zero, tiny angles, exactly pi and near pi."""
    axes = rng.normal(size=(12, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    angles = np.array([0.0, 1e-7, 1e-4, 0.5, np.pi / 2, 2.0, 3.0, np.pi - 1e-3, np.pi - 1e-5, np.pi,
                       np.pi, np.pi])
    special = axes * angles[:, None]
    special[-2] = [np.pi, 0, 0]
    special[-1] = [0, 0, -np.pi]
    random = Rotation.random(200, random_state=1).as_rotvec()
    return np.concatenate([special, random]).astype(np.float32)


def test_rodrigues_matches_scipy(run):
    rotvecs = _hard_rotvecs(np.random.default_rng(0))
    ours = run(geometry.batch_rodrigues, rotvecs)
    np.testing.assert_allclose(ours, Rotation.from_rotvec(rotvecs.astype(np.float64)).as_matrix(), atol=2e-6)


def test_rodrigues_zero_is_exact_identity(run):
    ours = run(geometry.batch_rodrigues, np.zeros((3, 3), np.float32))
    assert np.array_equal(ours, np.broadcast_to(np.eye(3, dtype=np.float32), (3, 3, 3)))


def _same_rotation(a, b):
    """Axis-angle vectors describe the same rotation (at pi, r and -r are equal)."""
    return Rotation.from_rotvec(a).inv() * Rotation.from_rotvec(b)


def test_rotmat_to_axis_angle_round_trip(run):
    rotvecs = _hard_rotvecs(np.random.default_rng(1))
    mats = Rotation.from_rotvec(rotvecs.astype(np.float64)).as_matrix().astype(np.float32)
    ours = run(geometry.rotmat_to_axis_angle, mats).astype(np.float64)
    assert np.all(np.isfinite(ours))
    residual = _same_rotation(ours, rotvecs.astype(np.float64)).magnitude()
    assert residual.max() < 5e-4, residual.max()
    # away from pi the vector itself is unique and must match scipy's
    scipy_vecs = Rotation.from_matrix(mats.astype(np.float64)).as_rotvec()
    away = np.linalg.norm(rotvecs, axis=1) < np.pi - 1e-2
    np.testing.assert_allclose(ours[away], scipy_vecs[away], atol=5e-6)
    # tiny angles keep their relative accuracy (no 1 - cos cancellation)
    np.testing.assert_allclose(ours[1], rotvecs[1], rtol=1e-3)
    assert np.all(np.linalg.norm(ours, axis=1) <= np.pi + 1e-5)


def test_rotmat_to_axis_angle_gradient_is_finite_at_identity_and_pi():
    mats = Rotation.from_rotvec([[0, 0, 0], [np.pi, 0, 0], [0, np.pi - 1e-6, 0]]).as_matrix().astype(np.float32)
    grad = ms.grad(lambda m: geometry.rotmat_to_axis_angle(m).sum())(ms.Tensor(mats)).asnumpy()
    assert np.all(np.isfinite(grad))


def test_rot6d_round_trip_and_layout(run):
    mats = Rotation.random(50, random_state=2).as_matrix().astype(np.float32)
    six = run(geometry.rotmat_to_rot6d, mats)
    # layout [R00, R01, R10, R11, R20, R21]
    np.testing.assert_array_equal(six[:, [0, 1, 2, 3, 4, 5]], mats[:, [0, 0, 1, 1, 2, 2], [0, 1, 0, 1, 0, 1]])
    np.testing.assert_allclose(run(geometry.rot6d_to_rotmat, six), mats, atol=2e-6)


def test_rot6d_gram_schmidt_of_unnormalised_input(run):
    rng = np.random.default_rng(3)
    raw = rng.normal(size=(20, 6)).astype(np.float32)
    mats = run(geometry.rot6d_to_rotmat, raw).astype(np.float64)
    np.testing.assert_allclose(mats @ mats.transpose(0, 2, 1), np.broadcast_to(np.eye(3), mats.shape), atol=1e-5)
    np.testing.assert_allclose(np.linalg.det(mats), 1.0, atol=1e-5)
    first = raw.reshape(-1, 3, 2)[:, :, 0]
    np.testing.assert_allclose(mats[:, :, 0], first / np.linalg.norm(first, axis=1, keepdims=True), atol=1e-6)


def test_rot6d_matches_spin_for_tiny_columns(run):
    """SPIN/mmpose normalise with F.normalize (divide by max(|a|, 1e-12)): columns of norm 1e-4
    must still give SPIN's orthonormal matrices (a +1e-12 under the root is off by 5e-5)."""
    import torch
    from tests.reference.torch_spin import rot6d_to_rotmat as spin_rot6d_to_rotmat
    rng = np.random.default_rng(4)
    raw = (rng.normal(size=(16, 6)) * np.array([1e-4, 1.0] * 3)).astype(np.float32)   # first column tiny
    raw[8:] *= 1e-4 / np.abs(raw[8:]).max()                                             # both columns tiny
    want = spin_rot6d_to_rotmat(torch.from_numpy(raw)).numpy()
    ours = run(geometry.rot6d_to_rotmat, raw)
    np.testing.assert_allclose(ours, want, atol=2e-6)
    ortho = ours.astype(np.float64) @ ours.transpose(0, 2, 1)
    assert np.abs(ortho - np.eye(3)).max() < 1e-5


def test_rotations_take_any_leading_shape(run):
    """(B, J, ...) in, (B, J, ...) out: the batch axis stays first (exported graphs free it)."""
    mats = Rotation.random(12, random_state=5).as_matrix().astype(np.float32)
    six = run(geometry.rotmat_to_rot6d, mats.reshape(3, 4, 3, 3))
    assert six.shape == (3, 4, 6)
    np.testing.assert_allclose(run(geometry.rot6d_to_rotmat, six).reshape(12, 3, 3), mats, atol=2e-6)
    vecs = run(geometry.rotmat_to_axis_angle, mats.reshape(3, 4, 3, 3))
    assert vecs.shape == (3, 4, 3)
    np.testing.assert_allclose(vecs.reshape(12, 3), Rotation.from_matrix(mats).as_rotvec(), atol=5e-6)


def test_weak_perspective_projection_by_hand(run):
    points = np.array([[[1.0, 2.0, 5.0], [-0.5, 0.0, 1.0]]], np.float32)
    cam = np.array([[2.0, 0.1, -0.2]], np.float32)
    expected = np.array([[[2.2, 3.6], [-0.8, -0.4]]], np.float32)
    np.testing.assert_allclose(run(geometry.weak_perspective_projection, points, cam), expected, atol=1e-6)


def _spin_translation(cam):
    return geometry.weak_perspective_to_translation(cam, 5000.0, 224.0)


def test_weak_perspective_to_translation_by_hand(run):
    cam = np.array([[0.9, 0.1, -0.2]], np.float32)
    out = run(_spin_translation, cam)
    np.testing.assert_allclose(out, [[0.1, -0.2, 2 * 5000.0 / (224.0 * 0.9)]], rtol=1e-5)


@pytest.mark.parametrize("where", ["centre", "top-left", "bottom-right"])
def test_cliff_keypoints_are_the_full_image_projection_in_the_crop(run, where):
    """The model's CLIFF keypoints from bbox_info alone equal, by hand: the crop camera moved to
    the full image (tz = 2f/(bs), tx + 2(cx - W/2)/(bs), ty + 2(cy - H/2)/(bs)), a pinhole
    projection about the image centre, then the crop's affine map into an H x W crop of the box
    (zoom H / b about the box centre) and the crop's normalisation (2u + 1 - W) / H."""
    height, width, side = 480.0, 640.0, 150.0
    cx, cy = {"centre": ((width - 1) / 2, (height - 1) / 2), "top-left": (70.0, 60.0),
              "bottom-right": (width - 80.0, height - 75.0)}[where]
    focal = 700.0
    crop_h, crop_w = 256, 192
    rng = np.random.default_rng(3)
    points = rng.uniform(-0.9, 0.9, (1, 20, 3)).astype(np.float32)
    cam = np.array([[0.7, 0.1, -0.05]], np.float32)
    s, tx, ty = (float(v) for v in cam[0])
    principal = np.array([(width - 1) / 2, (height - 1) / 2])
    info = np.array([[(cx - principal[0]) / focal * 2.8, (cy - principal[1]) / focal * 2.8,
                      (side - 0.24 * focal) / (0.06 * focal)]], np.float32)
    t = np.array([tx + 2 * (cx - principal[0]) / (side * s), ty + 2 * (cy - principal[1]) / (side * s),
                  2 * focal / (side * s)])
    moved = points[0].astype(np.float64) + t
    pixels = moved[:, :2] / moved[:, 2:] * focal + principal
    zoom = crop_h / side
    crop_pixels = (pixels - [cx, cy]) * zoom + [(crop_w - 1) / 2, (crop_h - 1) / 2]
    want = (2 * crop_pixels + 1 - [crop_w, crop_h]) / crop_h
    got = run(geometry.full_frame_crop_projection, points, cam, info)
    np.testing.assert_allclose(got[0], want, atol=2e-5)
    if where == "centre":             # at the image centre and the body's depth it is HMR's camera
        flat = points.copy()
        flat[..., 2] = 0
        np.testing.assert_allclose(run(geometry.full_frame_crop_projection, flat, cam, info),
                                   run(geometry.weak_perspective_projection, flat, cam), atol=1e-5)
