"""The overlay video out: H.264 in MP4 (yuv420p, ``+faststart``), which browsers and common
players open, encoded by PyAV's bundled libx264. OpenCV's wheel cannot write H.264 (its
``avc1``/``H264`` writers refuse to open: measured), hence PyAV. Written to a temporary file and
renamed when complete."""
import os

import numpy as np


class Mp4Writer:
    """``write(rgb)`` frame by frame; ``close()`` finishes the file (also as a context manager)."""

    def __init__(self, path, fps, size, crf=23):
        import av
        self.path = path
        self.tmp = os.path.join(os.path.dirname(os.path.abspath(path)), f".tmp-{os.getpid()}-{os.path.basename(path)}")
        self.container = av.open(self.tmp, mode="w", format="mp4", options={"movflags": "+faststart"})
        width, height = size
        from fractions import Fraction
        rate = Fraction(float(fps or 25)).limit_denominator(1001)
        self.stream = self.container.add_stream("libx264", rate=rate)
        self.stream.width, self.stream.height = width - width % 2, height - height % 2   # 4:2:0 needs even sides
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"crf": str(crf), "preset": "veryfast"}
        self.frames = 0

    def write(self, rgb):
        import av
        rgb = np.ascontiguousarray(rgb[:self.stream.height, :self.stream.width])
        for packet in self.stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
            self.container.mux(packet)
        self.frames += 1

    def close(self):
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()
        os.replace(self.tmp, self.path)
        return self.path

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        if kind is None:
            self.close()
        else:
            self.container.close()
            if os.path.exists(self.tmp):
                os.remove(self.tmp)
