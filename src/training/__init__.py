"""Training: the loop (``loop.py``), one step (``step.py``), losses, learning-rate schedules,
checkpoints and data-parallel set-up."""
