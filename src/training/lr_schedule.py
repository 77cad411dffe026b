"""Per-step learning rates (numpy), given to the optimisers as dynamic learning rates."""
import numpy as np

SCHEDULES = ("constant", "step", "multistep", "cosine")


def build_lr_schedule(kind, base_lr, total_steps, warmup_steps=0, decay_steps=0, decay_rate=0.1, milestones=()):
    """Learning rate of every step.

    Args:
        kind: ``constant``; ``step`` (times ``decay_rate`` every ``decay_steps``); ``multistep`` (times
            ``decay_rate`` at each of the ``milestones``, steps: PyTorch's ``MultiStepLR``); ``cosine``
            (to 0 at the last step).
        warmup_steps: linear ramp from 0 over the first steps.
    Returns:
        (total_steps,) float32.
    """
    if kind not in SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {SCHEDULES}, got {kind!r}")
    steps = np.arange(max(total_steps, 1), dtype=np.float64)
    if kind == "constant":
        lr = np.full_like(steps, base_lr)
    elif kind == "multistep":
        lr = base_lr * decay_rate ** np.searchsorted(np.sort(np.asarray(milestones, np.float64)), steps, side="right")
    elif kind == "step":
        lr = base_lr * decay_rate ** (steps // max(decay_steps, 1)) if decay_steps > 0 else np.full_like(steps, base_lr)
    else:
        lr = 0.5 * base_lr * (1.0 + np.cos(np.pi * steps / max(total_steps, 1)))
    if warmup_steps > 0:
        lr = lr * np.minimum(1.0, (steps + 1) / warmup_steps)
    return lr.astype(np.float32)
