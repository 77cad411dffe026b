"""CLIFF's frame information: bbox_info, image sizes from headers (cached), and a crop's place
in its full image kept consistent under augmentation."""
import cv2
import numpy as np
import pytest

from HMR.constants import J24_TO_LSP14
from src.data.crop import BOX_UNIT
from src.data.frame import bbox_info, image_size_from_header, make_frame, read_image_sizes
from src.data.sources import NO_AUGMENTATION, _Dataset, sample_arrays


def test_bbox_info_by_hand():
    """CLIFF: [(cx - W/2) / f * 2.8, (cy - H/2) / f * 2.8, (b - 0.24 f) / (0.06 f)]; CLIFF's W/2 (pixel
    corners) is (W - 1) / 2 with pixel centres at integers."""
    height, width, f = 480.0, 640.0, 800.0
    center = np.array([500.0, 100.0]) - 0.5                     # CLIFF's (500, 100) in this project's pixels
    got = bbox_info(make_frame(center, 300.0, (height, width), f))
    want = [(500.0 - 320.0) / 800.0 * 2.8, (100.0 - 240.0) / 800.0 * 2.8, (300.0 - 0.24 * 800.0) / (0.06 * 800.0)]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert bbox_info(np.stack([make_frame(center, 300.0, (height, width), f)] * 4)).shape == (4, 3)


@pytest.mark.parametrize("suffix,flags", [(".jpg", []), (".jpg", [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]), (".png", []),
                                          (".bmp", [])])
def test_image_size_from_header(tmp_path, suffix, flags):
    path = str(tmp_path / f"im{suffix}")
    cv2.imwrite(path, np.zeros((37, 91, 3), np.uint8), flags)
    assert image_size_from_header(path) == (37, 91)


def test_image_size_of_missing_or_corrupt_files_is_none(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0garbage")
    assert image_size_from_header(str(tmp_path / "bad.jpg")) is None
    assert image_size_from_header(str(tmp_path / "missing.png")) is None


def test_image_sizes_are_read_once_and_cached(tmp_path):
    names = np.array(["a.jpg", "b.png", "gone.jpg"])
    cv2.imwrite(str(tmp_path / "a.jpg"), np.zeros((20, 30, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "b.png"), np.zeros((40, 10, 3), np.uint8))
    npz = str(tmp_path / "data.npz")
    sizes = read_image_sizes(npz, names, str(tmp_path))
    np.testing.assert_array_equal(sizes, [[20, 30], [40, 10], [-1, -1]])
    (tmp_path / "a.jpg").unlink()                                # the cache answers now
    np.testing.assert_array_equal(read_image_sizes(npz, names, str(tmp_path)), sizes)
    np.testing.assert_array_equal(read_image_sizes(npz, names[1:], str(tmp_path)), [[40, 10], [-1, -1]])  # rebuilt


def _frame_dataset(folder, rng, height=240, width=320, focal=260.0):
    """One full frame whose 2D labels are the pinhole projection of its camera-frame 3D joints
    (focal ``focal``, principal point at the frame centre); no orig_shape key, as in SPIN's files."""
    folder.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / "frame.jpg"), rng.integers(0, 255, (height, width, 3), dtype=np.uint8))
    joints = np.concatenate([rng.uniform(-0.5, 0.5, (24, 2)) + [0.9, 0.3], rng.uniform(3.5, 4.5, (24, 1))], 1)
    principal = np.array([(width - 1) / 2, (height - 1) / 2])
    pixels = joints[:, :2] / joints[:, 2:] * focal + principal
    part = np.concatenate([pixels, np.ones((24, 1))], 1)
    center = (pixels.min(0) + pixels.max(0)) / 2
    scale = 1.2 * (pixels.max(0) - pixels.min(0)).max() / BOX_UNIT
    np.savez(folder / "data.npz", imgname=np.array(["frame.jpg"]), center=center[None].astype(np.float32),
             scale=np.array([scale], np.float32), part=part[None].astype(np.float32),
             S=np.concatenate([joints, np.ones((24, 1))], 1)[None].astype(np.float32),
             focal_length=np.array([focal], np.float32))
    return str(folder / "data.npz"), joints, focal, principal


@pytest.mark.parametrize("aug", [{}, {"flip": True}, {"scale": 1.3, "translation": np.array([0.1, -0.15])},
                                 {"scale": 0.8, "translation": np.array([-0.2, 0.05]), "flip": True}])
def test_augmented_bbox_info_reproduces_the_keypoints_through_the_full_image_camera(tmp_path, aug):
    """The crop's 2D labels equal the model's CLIFF projection of its 3D joints, given only the
    augmented sample's bbox_info and the crop camera that corresponds to the true translation: the
    frame follows scale and shift jitter, and a flip mirrors the box centre with the image."""
    import mindspore as ms

    from HMR import geometry
    rng = np.random.default_rng(5)
    path, joints, focal, principal = _frame_dataset(tmp_path, rng)
    dataset = _Dataset(path, with_frames=True)
    sample = sample_arrays(dataset, 0, (128, 96), "imagenet", J24_TO_LSP14, dict(NO_AUGMENTATION, **aug),
                           extra_inputs=("bbox_info",))
    data = dataset.data
    flip = aug.get("flip", False)
    side = data["scale"][0] * aug.get("scale", 1.0) * BOX_UNIT
    center = data["center"][0] + aug.get("translation", np.zeros(2)) * data["scale"][0] * BOX_UNIT
    if flip:
        center[0] = 320 - 1 - center[0]
    # by hand: the crop camera (s, tx, ty) whose full-image translation is T
    translation = np.array([0.2, -0.1, 4.0]) * ([-1, 1, 1] if flip else 1)
    s = 2 * focal / (side * translation[2])
    cam = np.array([[s, *(translation[:2] - 2 * (center - principal) / (side * s))]], np.float32)
    points = (sample["joints3d"][:, :3] - translation)[None].astype(np.float32)
    got = geometry.full_frame_crop_projection(ms.Tensor(points), ms.Tensor(cam),
                                              ms.Tensor(sample["bbox_info"][None])).asnumpy()
    np.testing.assert_allclose(got[0], sample["keypoints"][:, :2], atol=2e-4)
    assert np.isfinite(sample["bbox_info"]).all() and not np.allclose(sample["bbox_info"], 0)
