"""Augmentation keeps images and every label consistent (flip, crop, scale, rotation, shift)."""
import cv2
import numpy as np
import pytest

from HMR.constants import J24_TO_COCOPLUS19
from src.data.crop import BOX_UNIT, to_normalized, to_pixels
from src.data.sources import NO_AUGMENTATION, _Dataset, sample_arrays

J24_ALL = tuple(range(24))


def _dataset(folder, image, part, center, scale, joints=None, pose=None, betas=None):
    """A one-sample dataset npz (PNG image, lossless) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / "im.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    arrays = dict(imgname=np.array(["im.png"]), center=np.asarray([center], np.float32),
                  scale=np.array([scale], np.float32), part=np.asarray([part], np.float32))
    if joints is not None:
        arrays.update(S=np.asarray([joints], np.float32), pose=np.asarray([pose], np.float32),
                      shape=np.asarray([betas], np.float32), has_smpl=np.ones(1, np.float32))
    np.savez(folder / "data.npz", **arrays)
    return _Dataset(str(folder / "data.npz"))


def _identity_box(side):
    """Centre and scale of a box that crops a side x side image onto itself."""
    return np.full(2, (side - 1) / 2.0), side / BOX_UNIT


def _as_uint8(chw):
    """An 'hmr'-normalised (3, H, W) crop back to RGB uint8."""
    return np.round((chw.transpose(1, 2, 0) + 1.0) * 127.5).astype(np.uint8)


def _flip(**extra):
    return dict(NO_AUGMENTATION, flip=True, **extra)


def test_flipping_twice_is_the_identity(tmp_path):
    side, rng = 48, np.random.default_rng(0)
    image = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
    part = np.concatenate([rng.uniform(0, side - 1, (24, 2)), (rng.random((24, 1)) < 0.8)], 1)
    joints = np.concatenate([rng.normal(0, 0.3, (24, 3)), np.ones((24, 1))], 1)
    joints[14:] = 0                                   # the pipeline carries the 14 LSP joints in 3D
    pose, betas = rng.normal(0, 0.3, 72), rng.normal(0, 1, 10)
    center, scale = _identity_box(side)
    original = sample_arrays(_dataset(tmp_path / "a", image, part, center, scale, joints, pose, betas), 0, side,
                             "hmr", J24_ALL)
    np.testing.assert_array_equal(_as_uint8(original["image"]), image)          # the box is an identity crop
    once = sample_arrays(_dataset(tmp_path / "a", image, part, center, scale, joints, pose, betas), 0, side,
                         "hmr", J24_ALL, _flip())
    np.testing.assert_array_equal(_as_uint8(once["image"]), image[:, ::-1])
    flipped_part = once["keypoints"].copy()
    flipped_part[:, :2] = to_pixels(flipped_part[:, :2], side)
    flipped_joints = np.zeros((24, 4))
    flipped_joints[:14] = once["joints3d"]
    twice = sample_arrays(_dataset(tmp_path / "b", _as_uint8(once["image"]), flipped_part, center, scale,
                                   flipped_joints, once["pose"], once["betas"]), 0, side, "hmr", J24_ALL, _flip())
    np.testing.assert_array_equal(twice["image"], original["image"])
    np.testing.assert_allclose(twice["keypoints"], original["keypoints"], atol=1e-5)
    np.testing.assert_allclose(twice["joints3d"], original["joints3d"], atol=1e-6)
    np.testing.assert_allclose(twice["pose"], original["pose"], atol=1e-6)
    assert not np.allclose(once["keypoints"], original["keypoints"])


def test_flipped_pose_projects_onto_flipped_keypoints(tmp_path, body_model_pkl):
    """Posing SMPL with the flipped pose and projecting its joints gives the flipped 2D keypoints."""
    import mindspore as ms
    from HMR import SMPL
    smpl = SMPL(body_model_pkl)
    side, focal, rng = 128, 50.0, np.random.default_rng(1)
    poses = rng.normal(0, 0.35, (4, 72)).astype(np.float32)
    poses[:, :3] = rng.normal(0, 0.6, (4, 3))
    betas = rng.normal(0, 1, (4, 10)).astype(np.float32)

    def keypoints_of(pose, beta):
        vertices, _ = smpl(ms.Tensor(beta[None]), ms.Tensor(pose[None]))
        joints = smpl.regress(vertices, "cocoplus").asnumpy()[0]            # (19, 3)
        return focal * joints[:, :2] + (side - 1) / 2.0                      # orthographic, pixels

    center, scale = _identity_box(side)
    errors = []
    for i in range(4):
        part = np.zeros((24, 3))
        part[list(J24_TO_COCOPLUS19), :2] = keypoints_of(poses[i], betas[i])
        part[list(J24_TO_COCOPLUS19), 2] = 1
        dataset = _dataset(tmp_path / str(i), np.zeros((side, side, 3), np.uint8), part, center, scale,
                           np.zeros((24, 4)), poses[i], betas[i])
        sample = sample_arrays(dataset, 0, side, "hmr", J24_TO_COCOPLUS19, _flip())
        projected = to_normalized(keypoints_of(sample["pose"], sample["betas"]), side)
        errors.append(np.abs(projected - sample["keypoints"][:, :2]).max() * side / 2)   # crop pixels
        unflipped = to_normalized(keypoints_of(poses[i], betas[i]), side)
        assert np.abs(unflipped - sample["keypoints"][:, :2]).max() * side / 2 > 3.0   # the flip matters
    # The synthetic body (like SMPL) is mirror-symmetric only to ~1 cm; a wrong pose flip
    # (e.g. z not negated) is off by 30-130 cm on these poses.
    assert max(errors) / focal < 0.02, errors


@pytest.mark.parametrize("flip", [False, True])
def test_keypoints_follow_image_content(tmp_path, flip):
    """A marker drawn at a keypoint is found at that keypoint after crop, scale, rotation and shift."""
    height, width, crop = 180, 240, 96
    rng = np.random.default_rng(2 + flip)
    for trial in range(4):
        marker = rng.uniform([70, 50], [170, 130])
        image = np.zeros((height, width, 3), np.uint8)
        cv2.circle(image, (int(round(marker[0] * 16)), int(round(marker[1] * 16))), 3 * 16, (255, 255, 255), -1,
                   lineType=cv2.LINE_AA, shift=4)
        part = np.zeros((24, 3))
        part[0] = marker[0], marker[1], 1.0
        part[1:, :2], part[1:, 2] = rng.uniform(0, 200, (23, 2)), 1.0
        dataset = _dataset(tmp_path / f"{flip}{trial}", image, part, (120.0, 90.0), 1.0)
        aug = dict(NO_AUGMENTATION, scale=float(rng.uniform(0.7, 1.2)), rotation=float(rng.uniform(-40, 40)),
                   translation=rng.uniform(-0.1, 0.1, 2), flip=flip)
        sample = sample_arrays(dataset, 0, crop, "hmr", J24_ALL, aug)
        brightness = (sample["image"].mean(0) + 1.0) / 2.0                        # (H, W) in 0..1
        ys, xs = np.nonzero(brightness > 0.05)
        weights = brightness[ys, xs]
        found = np.array([np.sum(xs * weights), np.sum(ys * weights)]) / weights.sum()
        slot = 5 if flip else 0                                                    # right ankle <-> left ankle
        expected = to_pixels(sample["keypoints"][slot, :2], crop)
        assert np.linalg.norm(found - expected) < 0.35, (trial, found, expected, aug)
