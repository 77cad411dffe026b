"""Temporal refinement of per-frame mesh estimates over a person's track (``refiner.py``)."""
