"""Wall time of a pipeline's named stages, summed over calls (the video demo's per-stage report)."""
import contextlib
import time


class StageTimer:
    """``with timer("detect"): ...`` adds the block's wall time to stage ``detect``; ``seconds``
    maps each stage to its total (s), in the order the stages were first timed."""

    def __init__(self):
        self.seconds = {}

    @contextlib.contextmanager
    def __call__(self, stage):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start

    def iterate(self, iterable, stage):
        """``iterable``'s items, the time spent producing them added to ``stage`` (e.g. decoding)."""
        iterator = iter(iterable)
        while True:
            with self(stage):
                item = next(iterator, StopIteration)
            if item is StopIteration:
                return
            yield item

    def per_item(self, count):
        """{stage: ms per item} for ``count`` items (frames)."""
        return {stage: 1e3 * total / max(count, 1) for stage, total in self.seconds.items()}
