"""The README's main job on the embedded default (``python -m src.main_job.run``)."""
