"""BlazePose pre/post-processing by hand: anchors, decoding, weighted NMS, the region, keypoint sets."""
import numpy as np

from HMR.constants import J24_NAMES, LSP14_NAMES
from src.inference.detection.blazepose import (decode_detections, region_of_interest, roi_to_image_matrix, ssd_anchors,
                                     weighted_nms)
from src.inference.detection.person import BLAZEPOSE33_NAMES, Person


def test_anchors_match_the_model_output_count_and_grid():
    anchors = ssd_anchors()
    assert anchors.shape == (2254, 2)                          # 28*28*2 + 14*14*2 + 7*7*6
    np.testing.assert_allclose(anchors[0], [0.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(anchors[1], anchors[0])         # two anchors per cell at stride 8
    np.testing.assert_allclose(anchors[2], [1.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(anchors[1568], [0.5 / 14, 0.5 / 14])
    np.testing.assert_allclose(anchors[-1], [6.5 / 7, 6.5 / 7])


def test_decoding_and_weighted_nms():
    anchors = np.array([[0.5, 0.5], [0.5, 0.5], [0.1, 0.1]])
    raw = np.zeros((3, 12))
    raw[0, :4] = [22.4, 0.0, 44.8, 44.8]                        # centre +0.1 in x, size 0.2
    raw[1, :4] = [22.4, 4.48, 44.8, 44.8]
    raw[0, 4:6] = raw[1, 4:6] = [0.0, 22.4]                     # keypoint 0 at (0.5, 0.6)
    logits = np.array([2.0, 1.0, -5.0])
    scores, boxes, keypoints = decode_detections(raw, logits, anchors, min_score=0.5)
    assert len(scores) == 2                                     # the third is below threshold
    np.testing.assert_allclose(boxes[0], [0.5, 0.4, 0.7, 0.6], atol=1e-9)
    np.testing.assert_allclose(keypoints[0, 0], [0.5, 0.6], atol=1e-9)
    (score, box, _), = weighted_nms(scores, boxes, keypoints)    # the two overlap (IoU 0.82): one cluster
    weights = scores / scores.sum()
    assert score == scores.max()
    np.testing.assert_allclose(box, weights @ boxes)


def test_region_points_from_hip_to_head_and_maps_back():
    centre, side, rotation = region_of_interest(np.array([100.0, 200.0]), np.array([100.0, 100.0]))
    assert side == 2 * 100 * 1.25 and abs(rotation) < 1e-12   # already upright
    _, _, tilted = region_of_interest(np.array([100.0, 200.0]), np.array([200.0, 200.0]))
    assert np.isclose(tilted, np.pi / 2)                       # body lying to the right: turn by 90 deg
    matrix = roi_to_image_matrix(centre, side, 0.0)
    corner = matrix @ np.array([-0.5, -0.5, 1.0])              # the crop's outer corner (pixel edge)
    np.testing.assert_allclose(corner, centre - side / 2)


def test_person_keypoint_sets():
    landmarks = np.zeros((33, 3))
    landmarks[:, 0] = np.arange(33) * 10.0
    landmarks[:, 1] = 5.0
    landmarks[:, 2] = 0.9
    landmarks[BLAZEPOSE33_NAMES.index("left_knee"), 2] = 0.2    # not visible
    j24 = Person(np.zeros(4), 1.0, landmarks).keypoints("j24")
    left_wrist = BLAZEPOSE33_NAMES.index("left_wrist")
    assert J24_NAMES[11] == "left_wrist" and np.allclose(j24[11], [left_wrist * 10.0, 5.0, 1.0])
    shoulders = [BLAZEPOSE33_NAMES.index(n) * 10.0 for n in ("left_shoulder", "right_shoulder")]
    np.testing.assert_allclose(j24[J24_NAMES.index("neck")], [np.mean(shoulders), 5.0, 1.0])
    hips = [BLAZEPOSE33_NAMES.index(n) * 10.0 for n in ("left_hip", "right_hip")]
    np.testing.assert_allclose(j24[J24_NAMES.index("pelvis")], [np.mean(hips), 5.0, 1.0])      # 3DCrowdNet's pelvis
    landmarks[BLAZEPOSE33_NAMES.index("right_hip"), 2] = 0.1
    assert Person(np.zeros(4), 1.0, landmarks).keypoints("j24")[J24_NAMES.index("pelvis"), 2] == 0
    assert j24[J24_NAMES.index("head_top"), 2] == 0 and j24[J24_NAMES.index("left_knee"), 2] == 0
    lsp = Person(np.zeros(4), 1.0, landmarks).keypoints("lsp14")
    assert lsp.shape == (14, 3) and lsp[LSP14_NAMES.index("left_wrist"), 0] == left_wrist * 10.0
