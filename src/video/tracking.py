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

IOU_DISTANCE_THRESHOLD = 0.8          # match when 1 - IoU < this (ByteTrack's match_thresh; the
                                      # landmark boxes of a walking person change width with the arms)
HIT_COUNTER_MAX = 10
INITIALIZATION_DELAY = 3


class PersonTracker:
    """``update(frame, boxes)`` -> [(frame, detection index, track id)] for the boxes (P, 4) x, y, w, h
    of one frame. When a track is confirmed, the detections that confirmed it (earlier frames) are
    returned with it, so a track starts where its person was first seen."""

    def __init__(self):
        from norfair import Tracker
        self.tracker = Tracker(distance_function="iou", distance_threshold=IOU_DISTANCE_THRESHOLD,
                               hit_counter_max=HIT_COUNTER_MAX, initialization_delay=INITIALIZATION_DELAY,
                               past_detections_length=INITIALIZATION_DELAY + 2)
        self.confirmed = set()

    def update(self, frame, boxes):
        from norfair import Detection
        detections = [Detection(points=np.array([[x, y], [x + w, y + h]], np.float64), data=(frame, k))
                      for k, (x, y, w, h) in enumerate(np.asarray(boxes, np.float64).reshape(-1, 4))]
        matched = set()
        for tracked in self.tracker.update(detections=detections):
            track = int(tracked.id)
            if track not in self.confirmed:
                self.confirmed.add(track)
                matched.update((*d.data, track) for d in tracked.past_detections if d.data[0] < frame)
            source = tracked.last_detection.data if tracked.last_detection is not None else None
            if source is not None and source[0] == frame:
                matched.add((*source, track))
        return sorted(matched)
