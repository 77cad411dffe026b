"""Frames in: a video file decoded by OpenCV (its wheel bundles FFmpeg: mp4, avi, mkv, ...; no
system ffmpeg), or a folder of images in name order. Frames are RGB uint8."""
import glob
import logging
import os

import cv2

from model_utils.errors import UserInputError

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
MAX_CONSECUTIVE_FAILURES = 25        # a video whose frames stop decoding this many times in a row has ended


class VideoFrames:
    """``(index, rgb or None)`` for each frame of ``path`` (None: a frame that did not decode)."""

    def __init__(self, path, max_frames=0):
        if not os.path.isfile(path):
            raise UserInputError(f"--video: file not found: {path}")
        capture = cv2.VideoCapture(path)
        if not capture.isOpened():
            raise UserInputError(f"--video: {path} is not a video OpenCV can decode")
        self.count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        capture.release()
        self.path, self.name = path, os.path.basename(path)
        self.total = min(self.count, max_frames) if max_frames and self.count > 0 else (max_frames or self.count)

    def __iter__(self):
        capture = cv2.VideoCapture(self.path)
        index, failures = 0, 0
        try:
            while not self.total or index < self.total:
                ok, frame = capture.read()
                if not ok:
                    failures += 1
                    if index >= self.count - 1 or failures >= MAX_CONSECUTIVE_FAILURES:
                        return
                    yield index, None
                else:
                    failures = 0
                    yield index, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                index += 1
        finally:
            capture.release()


class FolderFrames:
    """``(index, rgb or None)`` for each image of a folder, in name order."""

    def __init__(self, folder, max_frames=0, fps=25.0):
        if not os.path.isdir(folder):
            raise UserInputError(f"--frames: folder not found: {folder}")
        paths = sorted(p for p in glob.glob(os.path.join(folder, "*")) if p.lower().endswith(IMAGE_SUFFIXES))
        if not paths:
            raise UserInputError(f"--frames: no {'/'.join(IMAGE_SUFFIXES)} images in {folder}")
        self.paths = paths[:max_frames] if max_frames else paths
        self.total, self.count, self.fps = len(self.paths), len(paths), fps
        self.path, self.name = folder, os.path.basename(os.path.normpath(folder))

    def __iter__(self):
        from src.data.images import read_rgb
        for index, path in enumerate(self.paths):
            yield index, read_rgb(path)


def open_frames(config):
    """The frames of ``--video`` or ``--frames`` (exactly one), at most ``--max_frames``."""
    if bool(config.video) == bool(config.frames):
        raise UserInputError("give exactly one of --video FILE or --frames DIR")
    if config.max_frames < 0:
        raise UserInputError(f"--max_frames must be >= 0 (0 = all), got {config.max_frames}")
    if config.video:
        return VideoFrames(config.video, config.max_frames)
    return FolderFrames(config.frames, config.max_frames)
