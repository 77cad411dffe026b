"""The demo's crops and full-image camera: identity crop, round trips, perspective vs weak perspective."""
import numpy as np
import pytest

from model_utils.errors import UserInputError
from src.person_crop import PersonCrop, parse_bbox, whole_image_box


def test_full_image_box_is_an_identity_crop():
    image = np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    crop = PersonCrop(parse_bbox("0,0,224,224"), 224)
    np.testing.assert_array_equal(crop.crop(image), image)
    np.testing.assert_array_equal(whole_image_box(224, 224), [0, 0, 224, 224])


def test_box_is_used_exactly_and_points_round_trip():
    crop = PersonCrop(parse_bbox("40,30,100,160"), 96)
    np.testing.assert_allclose(crop.center, [40 + 99 / 2, 30 + 159 / 2])
    assert crop.scale == pytest.approx(160 / 200)
    points = np.array([[50.0, 40.0], [130.5, 180.25]])
    np.testing.assert_allclose(crop.to_image(crop.to_crop(points)), points, atol=1e-9)
    np.testing.assert_allclose(crop.to_crop(crop.center[None]), [[0.0, 0.0]], atol=1e-12)
    assert PersonCrop(parse_bbox("40,30,100,160"), 96, bbox_scale=1.5).scale == pytest.approx(1.5 * 160 / 200)
    with pytest.raises(UserInputError, match=r"--bbox: expected x,y,w,h with w, h > 0, got '1,2,3'"):
        parse_bbox("1,2,3")


def test_camera_translation_reproduces_the_weak_perspective_view():
    """Points at the body's depth projected with the full-image perspective camera land where
    the weak-perspective camera put them in the crop (exactly: depth variation is what the
    weak-perspective model ignores)."""
    rng = np.random.default_rng(1)
    points = rng.normal(0, 0.4, (50, 3))
    points[:, 2] = 0.0
    crop = PersonCrop(parse_bbox("300,120,160,200"), 224)
    cam = np.array([0.9, 0.05, -0.1])
    focal, size = 1500.0, (480, 640)
    t = crop.camera_translation(cam, size, focal)
    camera_points = points + t
    principal = np.array([(640 - 1) / 2, (480 - 1) / 2])
    perspective = camera_points[:, :2] / camera_points[:, 2:] * focal + principal
    weak = crop.to_image(cam[0] * (points[:, :2] + cam[1:]))
    assert np.abs(perspective - weak).max() < 1e-6
    assert t[2] == pytest.approx(2 * focal / (200 * crop.scale * cam[0]))
