"""People in street footage: OpenCV's HOG pedestrian detector proposes, BlazePose confirms.

BlazePose's detector is trained on people close to the camera and finds nobody 80-150 px tall
in a street scene. OpenCV ships a HOG + linear-SVM pedestrian detector (Dalal & Triggs; 64 x 128
windows, ``cv2.HOGDescriptor_getDefaultPeopleDetector``) that needs no download and is made for
exactly that size. Per frame:

1. HOG over the frame upscaled ``upscale`` x (people down to ~60 px tall), windows with an SVM
   margin above ``min_margin``;
2. each window, as an upright square region of its height, goes through BlazePose's landmark
   model; windows whose pose-presence score is below ``min_presence`` (poles, cars) are dropped;
3. the person box is the landmarks' extent (``blazepose.box_from_landmarks``); overlapping boxes
   (IoU above ``NMS_IOU``) keep the most present one.

Same interface as :class:`src.inference.detection.blazepose.BlazePoseDetector` (``detect(image)``).
"""
import cv2
import numpy as np

from src.inference.detection.person import Person

HOG_STRIDE = (8, 8)
HOG_PADDING = (8, 8)
HOG_SCALE_STEP = 1.05
REGION_SCALE = 1.1            # landmark region side / HOG window height
NMS_IOU = 0.5


def _iou(a, b):
    """IoU of two x, y, w, h boxes."""
    low = np.maximum(a[:2], b[:2])
    high = np.minimum(a[:2] + a[2:], b[:2] + b[2:])
    inter = np.prod(np.clip(high - low, 0, None))
    return inter / max(a[2] * a[3] + b[2] * b[3] - inter, 1e-9)


class PedestrianDetector:
    """HOG proposals confirmed and given keypoints by BlazePose's landmark model.

    Args:
        landmarker: a :class:`BlazePoseDetector` (its ``landmarks_in_region``).
        upscale: frame upscaling before HOG; min_margin: HOG's SVM margin threshold;
        min_presence: BlazePose pose-presence threshold in [0, 1].
    """

    def __init__(self, landmarker, upscale, min_margin, min_presence=0.6):
        from src.inference.detection.blazepose import box_from_landmarks
        self.box_from_landmarks = box_from_landmarks
        self.landmarker = landmarker
        self.upscale, self.min_margin, self.min_presence = upscale, min_margin, min_presence
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def proposals(self, image):
        """[(x, y, w, h) in image pixels, SVM margin] of HOG's windows above ``min_margin``."""
        big = cv2.resize(image, None, fx=self.upscale, fy=self.upscale, interpolation=cv2.INTER_LINEAR)
        boxes, margins = self.hog.detectMultiScale(big, winStride=HOG_STRIDE, padding=HOG_PADDING,
                                                   scale=HOG_SCALE_STEP)
        margins = np.asarray(margins, np.float64).reshape(-1)
        return [(np.asarray(b, np.float64) / self.upscale, float(m)) for b, m in zip(boxes, margins)
                if m >= self.min_margin]

    def detect(self, image):
        """Every confirmed person in ``image`` (RGB uint8), most present first; ``score`` is
        BlazePose's pose presence."""
        people = []
        for box, _ in self.proposals(image):
            centre = box[:2] + box[2:] / 2.0
            landmarks, presence = self.landmarker.landmarks_in_region(image, centre, box[3] * REGION_SCALE, 0.0)
            if presence < self.min_presence:
                continue
            landmarks[:, :2] -= 0.5                                      # pixel centres at integers
            people.append(Person(box=self.box_from_landmarks(landmarks, image.shape[:2]), score=presence,
                                 landmarks=landmarks))
        kept = []
        for person in sorted(people, key=lambda p: -p.score):
            if all(_iou(person.box, other.box) <= NMS_IOU for other in kept):
                kept.append(person)
        return kept
