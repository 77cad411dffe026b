"""The demo's crops and full-image camera: identity crop, round trips, perspective vs weak perspective."""
import numpy as np
import pytest

from model_utils.errors import UserInputError
from src.inference.person_crop import PersonCrop, parse_bbox, whole_image_box


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


BOXES = {"inside": "300,120,160,200", "centre": "239.5,139.5,161,201", "top-left": "0,0,160,200",
         "top-right": "480,0,160,200", "bottom-left": "0,280,160,200", "bottom-right": "480,280,160,200"}


@pytest.mark.parametrize("crop_size", [224, (256, 192)])
@pytest.mark.parametrize("where", sorted(BOXES))
def test_camera_translation_reproduces_the_weak_perspective_view(where, crop_size):
    """CLIFF's crop -> full-image camera (``tz = 2f/(bs)``, ``tx + 2(cx - W/2)/(bs)``, ...): points at
    the body's depth projected with the full-image perspective camera land where the
    weak-perspective camera put them in the crop, ``u = cx + s (X + tx) b / 2`` by hand (exactly:
    depth variation is what the weak-perspective model ignores), for boxes at the image centre
    and its corners, square and CLIFF's 256 x 192 crops."""
    rng = np.random.default_rng(1)
    points = rng.normal(0, 0.4, (50, 3))
    points[:, 2] = 0.0
    crop = PersonCrop(parse_bbox(BOXES[where]), crop_size)
    cam = np.array([0.9, 0.05, -0.1])
    focal, size = 1500.0, (480, 640)
    t = crop.camera_translation(cam, size, focal)
    camera_points = points + t
    principal = np.array([(640 - 1) / 2, (480 - 1) / 2])
    perspective = camera_points[:, :2] / camera_points[:, 2:] * focal + principal
    weak = crop.to_image(cam[0] * (points[:, :2] + cam[1:]))
    assert np.abs(perspective - weak).max() < 1e-6
    x, y, w, h = parse_bbox(BOXES[where])
    side = max(w * np.divide(*np.broadcast_to(crop_size, 2)), h)          # the box grown to the crop's aspect
    centre = np.array([x + (w - 1) / 2, y + (h - 1) / 2])
    np.testing.assert_allclose(perspective, centre + cam[0] * (points[:, :2] + cam[1:]) * side / 2, atol=1e-6)
    assert t[2] == pytest.approx(2 * focal / (side * cam[0]))


def test_box_overlap_with_the_image_by_hand():
    from src.inference.person_crop import box_overlaps_image
    shape = (480, 640)                                   # height, width
    assert box_overlaps_image((0, 0, 10, 10), shape) and box_overlaps_image((-5, -5, 6, 6), shape)
    assert box_overlaps_image((639, 479, 50, 50), shape)                 # its last pixel
    assert not box_overlaps_image((640, 0, 10, 10), shape) and not box_overlaps_image((0, 480, 10, 10), shape)
    assert not box_overlaps_image((-10, 5, 10, 10), shape) and not box_overlaps_image((5, -10, 10, 10), shape)


@pytest.mark.parametrize("x", [-1.6, 0.0, 1.6])
def test_side_view_is_framed_on_the_mesh(body_model_arrays, x):
    """A person near an image edge: the side view shows the whole mesh, away from the panel's borders."""
    from src.demo.outputs import SIDE_BACKGROUND, overlay_image
    model = body_model_arrays
    height, width, focal = 480, 640, 800.0
    standing = model["v_template"] * np.array([1.0, -1.0, 1.0])            # y down, as the camera frame
    placed = standing - standing.mean(0) + np.array([x, 0.0, 5.0])          # 1.6 m at 5 m: 256 px off centre
    out = overlay_image(np.zeros((height, width, 3), np.uint8), [placed], model["f"], focal)
    side = np.any(out[:, width:] != SIDE_BACKGROUND, axis=-1)
    rows, cols = np.nonzero(side)
    assert rows.min() > 2 and cols.min() > 2 and rows.max() < height - 3 and cols.max() < width - 3
    assert rows.max() - rows.min() > 0.6 * height                           # the body fills the panel
