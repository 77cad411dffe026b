"""Tracking (norfair): people keep one track each, and a track starts at its person's first frame."""
import numpy as np


def _walk(start, step, frames):
    """Boxes x, y, w, h of a 30 x 90 px person moving ``step`` px per frame from ``start``."""
    return [np.array([start[0] + step[0] * t, start[1] + step[1] * t, 30.0, 90.0]) for t in range(frames)]


def test_two_walkers_one_track_each_from_their_first_frame():
    from src.video.tracking import PersonTracker
    left, right = _walk((100, 200), (6, 0), 12), _walk((500, 180), (-5, 1), 12)
    tracker, seen = PersonTracker(), {}
    for frame in range(12):
        boxes = [right[frame], left[frame]] if frame % 2 else [left[frame], right[frame]]     # order changes
        for f, detection, track in tracker.update(frame, np.stack(boxes)):
            seen.setdefault(track, []).append((f, detection))
    assert len(seen) == 2
    for members in seen.values():
        assert [f for f, _ in members] == list(range(12))             # the confirming frames come back too
        # one person per track: detection 0 is the left walker on even frames, the right one on odd
        people = {"left" if (d == 0) == (f % 2 == 0) else "right" for f, d in members}
        assert len(people) == 1, members


def test_a_single_false_detection_makes_no_track():
    from src.video.tracking import PersonTracker
    tracker, tracks = PersonTracker(), set()
    walker = _walk((100, 200), (4, 0), 8)
    for frame in range(8):
        boxes = [walker[frame]] + ([np.array([600.0, 50.0, 20.0, 60.0])] if frame == 3 else [])
        tracks.update((d, track) for f, d, track in tracker.update(frame, np.stack(boxes)) if f == 3)
    assert {d for d, _ in tracks} == {0}
