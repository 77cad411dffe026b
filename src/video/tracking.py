"""People followed across frames with norfair (tryolabs/norfair 2.3): a Kalman filter per box,
IoU association, tracks confirmed after ``INITIALIZATION_DELAY`` hits and kept through up to
``HIT_COUNTER_MAX`` frames without a match.

Why norfair: of the trackers the issue names, it installs beside the pinned packages
(numpy < 2). supervision's ByteTrack needs opencv-python beside opencv-python-headless (0.26)
or is gone (0.31: moved to the ``trackers`` package, which needs numpy 2). Norfair associates in
one stage (no separate low-score pass as ByteTrack does); detections below the detector's
threshold never reach it.
"""
import numpy as np

IOU_DISTANCE_THRESHOLD = 0.7          # match when 1 - IoU < this
HIT_COUNTER_MAX = 10
INITIALIZATION_DELAY = 3


class PersonTracker:
    """``update(frame, boxes)`` -> {detection index: track id} for the boxes (P, 4) x, y, w, h of one frame."""

    def __init__(self):
        from norfair import Tracker
        self.tracker = Tracker(distance_function="iou", distance_threshold=IOU_DISTANCE_THRESHOLD,
                               hit_counter_max=HIT_COUNTER_MAX, initialization_delay=INITIALIZATION_DELAY)

    def update(self, frame, boxes):
        from norfair import Detection
        detections = [Detection(points=np.array([[x, y], [x + w, y + h]], np.float64), data=(frame, k))
                      for k, (x, y, w, h) in enumerate(np.asarray(boxes, np.float64).reshape(-1, 4))]
        matched = {}
        for tracked in self.tracker.update(detections=detections):
            source = tracked.last_detection.data if tracked.last_detection is not None else None
            if source is not None and source[0] == frame:
                matched[source[1]] = int(tracked.id)
        return matched
