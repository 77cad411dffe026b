"""BlazePose person detection and 33 full-body landmarks, run offline with LiteRT.

The two models ship inside the ``mediapipe==0.10.14`` wheel (``scripts/setup.sh`` extracts
them; mediapipe itself is not installed). Pre/post-processing follows the models' documented
graphs (MediaPipe ``pose_detection_cpu`` / ``pose_landmark_cpu``):

1. Detector: the image letterboxed to 224x224, RGB in [-1, 1]. Outputs 2254 anchors x 12
   values (box centre/size, then 4 keypoints; offsets from fixed-size SSD anchors, in
   224-pixel units) and 2254 logits. Score = sigmoid; kept above ``min_score``; weighted
   non-maximum suppression (IoU 0.3). The box is the head's; keypoint 0 is the hip centre and
   keypoint 1 sets the body's size and rotation.
2. Region of interest: a square centred on keypoint 0, side 2 x 1.25 x |kp1 - kp0|, rotated so
   that kp0 -> kp1 points up.
3. Landmarks: the region warped to 256x256, RGB in [0, 1]. Outputs 39 x (x, y, z, visibility,
   presence) in 256-pixel units (the first 33 are the body), a pose-presence logit; mapped back
   through the region's rotation and scale.

Coordinates returned are image pixels with pixel centres at integers (as ``src/data/crop.py``).
"""
import os

import cv2
import numpy as np

from model_utils.errors import UserInputError
from src.inference.detection.person import Person

DETECTOR_FILE, LANDMARK_FILE = "pose_detection.tflite", "pose_landmark_full.tflite"
DETECTOR_SIZE, LANDMARK_SIZE = 224, 256
ANCHOR_STRIDES = (8, 16, 32, 32, 32)
ANCHORS_PER_LAYER = 2            # aspect ratio 1 + the interpolated-scale anchor
NUM_DETECTOR_KEYPOINTS = 4
NMS_IOU = 0.3
ROI_SCALE = 1.25
NUM_BODY_LANDMARKS, LANDMARK_VALUES = 33, 5
BOX_MARGIN = 1.2                 # person box = visible landmark extent x this


def ssd_anchors(size=DETECTOR_SIZE, strides=ANCHOR_STRIDES):
    """(2254, 2) anchor centres in [0, 1] (fixed-size anchors: width = height = 1)."""
    centres = []
    layer = 0
    while layer < len(strides):
        repeat = 1
        while layer + repeat < len(strides) and strides[layer + repeat] == strides[layer]:
            repeat += 1
        cells = int(np.ceil(size / strides[layer]))
        ys, xs = np.meshgrid((np.arange(cells) + 0.5) / cells, (np.arange(cells) + 0.5) / cells, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], 1)
        centres.append(np.repeat(grid, ANCHORS_PER_LAYER * repeat, axis=0))
        layer += repeat
    return np.concatenate(centres)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(x, np.float64), -100.0, 100.0)))


def decode_detections(raw_boxes, raw_scores, anchors, min_score, size=DETECTOR_SIZE):
    """-> (scores (N,), boxes (N, 4) x0, y0, x1, y1 and keypoints (N, 4, 2)), in [0, 1] units."""
    scores = _sigmoid(raw_scores.reshape(-1))
    keep = scores >= min_score
    raw, centres, scores = raw_boxes.reshape(len(anchors), -1)[keep], anchors[keep], scores[keep]
    xy = raw[:, :2] / size + centres
    wh = raw[:, 2:4] / size
    boxes = np.concatenate([xy - wh / 2, xy + wh / 2], 1)
    keypoints = raw[:, 4:4 + 2 * NUM_DETECTOR_KEYPOINTS].reshape(-1, NUM_DETECTOR_KEYPOINTS, 2) / size \
        + centres[:, None]
    return scores, boxes, keypoints


def _iou(box, boxes):
    low, high = np.maximum(box[:2], boxes[:, :2]), np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(high - low, 0, None), axis=1)
    area = lambda b: np.prod(np.clip(b[..., 2:] - b[..., :2], 0, None), axis=-1)  # noqa: E731
    return inter / np.maximum(area(box) + area(boxes) - inter, 1e-12)


def weighted_nms(scores, boxes, keypoints, threshold=NMS_IOU):
    """MediaPipe's weighted NMS: each cluster becomes the score-weighted mean of its members."""
    order = np.argsort(-scores)
    scores, boxes, keypoints = scores[order], boxes[order], keypoints[order]
    remaining = np.ones(len(scores), bool)
    out = []
    for i in range(len(scores)):
        if not remaining[i]:
            continue
        members = remaining & (_iou(boxes[i], boxes) > threshold)
        members[i] = True
        weights = scores[members] / scores[members].sum()
        out.append((float(scores[i]), (boxes[members] * weights[:, None]).sum(0),
                    (keypoints[members] * weights[:, None, None]).sum(0)))
        remaining &= ~members
    return out


def region_of_interest(hip, scale_point):
    """(centre (2,), side, rotation rad) of the landmark model's square; points in image pixels."""
    delta = scale_point - hip
    side = 2.0 * float(np.hypot(*delta)) * ROI_SCALE
    rotation = np.pi / 2 - np.arctan2(-delta[1], delta[0])
    rotation = (rotation + np.pi) % (2 * np.pi) - np.pi
    return hip, side, rotation


def roi_to_image_matrix(centre, side, rotation, size=LANDMARK_SIZE):
    """2x3 affine: crop pixel (i, j) -> image coordinates (continuous, pixel edges at integers)."""
    c, s = np.cos(rotation), np.sin(rotation)
    unit = side / size
    rot = np.array([[c, -s], [s, c]]) * unit
    offset = np.asarray(centre) + rot @ np.array([0.5 - size / 2.0, 0.5 - size / 2.0])
    return np.concatenate([rot, offset[:, None]], 1)


class BlazePoseDetector:
    """``detect(image_rgb uint8 (H, W, 3)) -> [Person]`` with 33 landmarks per person."""

    def __init__(self, models_dir, min_score=0.5, min_presence=0.5, threads=2):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as err:
            raise UserInputError("person detection needs ai-edge-litert (bash scripts/setup.sh installs it)") from err
        paths = [os.path.join(models_dir, name) for name in (DETECTOR_FILE, LANDMARK_FILE)]
        for path in paths:
            if not os.path.isfile(path):
                raise UserInputError(f"detector model not found: {path} (bash scripts/setup.sh extracts it from the "
                                     "mediapipe==0.10.14 wheel)")
        self.detector, self.landmarker = (Interpreter(model_path=p, num_threads=threads) for p in paths)
        for model in (self.detector, self.landmarker):
            model.allocate_tensors()
        self.anchors = ssd_anchors()
        self.min_score, self.min_presence = min_score, min_presence

    @staticmethod
    def _run(model, tensor):
        model.set_tensor(model.get_input_details()[0]["index"], tensor[None].astype(np.float32))
        model.invoke()
        return [model.get_tensor(d["index"])[0] for d in model.get_output_details()]

    def detections(self, image):
        """[(score, hip (2,), scale point (2,))] in image pixels (continuous coordinates)."""
        height, width = image.shape[:2]
        scale = DETECTOR_SIZE / max(height, width)
        pad = (DETECTOR_SIZE - np.array([width, height]) * scale) / 2.0
        matrix = np.array([[scale, 0.0, pad[0] + 0.5 * scale - 0.5], [0.0, scale, pad[1] + 0.5 * scale - 0.5]])
        letterboxed = cv2.warpAffine(image, matrix, (DETECTOR_SIZE, DETECTOR_SIZE), flags=cv2.INTER_LINEAR)
        raw_boxes, raw_scores = self._run(self.detector, letterboxed.astype(np.float32) / 127.5 - 1.0)
        found = weighted_nms(*decode_detections(raw_boxes, raw_scores, self.anchors, self.min_score))
        to_image = lambda p: (p * DETECTOR_SIZE - pad) / scale  # noqa: E731  (continuous coordinates)
        return [(score, to_image(kps[0]), to_image(kps[1])) for score, _, kps in found]

    def landmarks(self, image, hip, scale_point):
        """(33, 3) x, y (continuous image coordinates), visibility; and the pose-presence score."""
        return self.landmarks_in_region(image, *region_of_interest(hip, scale_point))

    def landmarks_in_region(self, image, centre, side, rotation):
        """:meth:`landmarks` of the square region ``centre`` (2,), ``side`` pixels, ``rotation`` rad."""
        to_image = roi_to_image_matrix(centre, side, rotation)
        pixel_map = to_image - np.array([[0, 0, 0.5], [0, 0, 0.5]])            # to pixel-centre coordinates
        crop = cv2.warpAffine(image, pixel_map, (LANDMARK_SIZE, LANDMARK_SIZE),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        outputs = self._run(self.landmarker, crop.astype(np.float32) / 255.0)
        values = outputs[0].reshape(-1, LANDMARK_VALUES)[:NUM_BODY_LANDMARKS]
        crop_xy = values[:, :2] - 0.5                                           # crop pixel-centre coordinates
        image_xy = crop_xy @ to_image[:, :2].T + to_image[:, 2]
        return np.concatenate([image_xy, _sigmoid(values[:, 3:4])], 1), float(_sigmoid(outputs[1]).ravel()[0])

    def detect(self, image):
        """Every person in ``image`` (RGB uint8), most confident first."""
        people = []
        for score, hip, scale_point in self.detections(image):
            landmarks, presence = self.landmarks(image, hip, scale_point)
            if presence < self.min_presence:
                continue
            landmarks[:, :2] -= 0.5                                              # pixel centres at integers
            people.append(Person(box=box_from_landmarks(landmarks, image.shape[:2]), score=score,
                                 landmarks=landmarks))
        return people


def box_from_landmarks(landmarks, image_shape, min_visibility=0.5, margin=BOX_MARGIN):
    """x, y, w, h around the visible landmarks (all when none is visible), enlarged, clipped to the image."""
    visible = landmarks[:, 2] >= min_visibility
    points = landmarks[visible if visible.sum() >= 2 else slice(None), :2]
    low, high = points.min(0), points.max(0)
    centre, half = (low + high) / 2, (high - low) / 2 * margin
    height, width = image_shape
    low = np.clip(centre - half, 0, [width - 1, height - 1])
    high = np.clip(centre + half, 0, [width - 1, height - 1])
    return np.array([low[0], low[1], high[0] - low[0] + 1, high[1] - low[1] + 1])
