"""Loss scaling for mixed-precision training, with overflow skip.

The encoder objective is multiplied by ``scale`` before differentiation (so small float16
gradients do not flush to zero) and the gradients divided by it after the all-reduce. When any
gradient is then not finite (``mindspore.amp.all_finite``, which reads the Ascend float-status
register where the device saturates instead of producing inf), the optimiser step is skipped;
the all-reduced gradients are the same on every rank, so every rank skips together.

Modes (``loss_scale``):

- ``none``: no scaling, no check (float32 training; a non-finite loss stops the run);
- ``fixed``: a constant ``scale``, overflowing steps skipped;
- ``dynamic``: as MindSpore's ``DynamicLossScaleManager``: on overflow ``scale = max(scale /
  factor, 1)``; after ``window`` finite steps in a row ``scale *= factor``.

The state (``scale_value``, ``good_steps``, ``overflow_steps``) is made of Parameters, so the
training checkpoint stores it and a resumed run continues with the same scale and counts.
"""
import numpy as np

import mindspore as ms
from mindspore import nn, ops

from HMR.graph_call import call

LOSS_SCALE_MODES = ("none", "fixed", "dynamic")
STEP_STAT_NAMES = ("loss_scale", "overflow")     # what a train step reports after its losses


class ScaledObjective(nn.Cell):
    """A loss cell whose first output is the total, with ``scale`` as an extra last input:
    returns (scale * total, total, the other outputs...). Under ``value_and_grad(has_aux=True)``
    the gradient is that of the scaled total and every other output is reported unscaled."""

    def __init__(self, objective):
        super().__init__(auto_prefix=False)        # parameter names stay the objective's
        self.objective = objective

    def construct(self, *inputs):
        outputs = call(self.objective, inputs[:-1])
        return (outputs[0] * inputs[-1],) + outputs


class LossScaler(nn.Cell):
    """Loss-scale state and its update rule (see the module docstring).

    Args:
        mode: one of ``LOSS_SCALE_MODES``.
        scale: initial (``dynamic``) or constant (``fixed``) scale; 1 for ``none``.
        factor: ``dynamic`` growth/shrink factor (> 1).
        window: ``dynamic``: finite steps in a row before the scale grows.
    """

    def __init__(self, mode="none", scale=1.0, factor=2.0, window=1000):
        super().__init__()
        if mode not in LOSS_SCALE_MODES:
            raise ValueError(f"loss_scale must be one of {LOSS_SCALE_MODES}, got {mode!r}")
        self.mode, self.factor, self.window = mode, float(factor), int(window)
        self.checks = mode != "none"
        self.scale_value = ms.Parameter(ms.Tensor(np.float32(scale if self.checks else 1.0)), name="scale_value",
                                        requires_grad=False)
        self.good_steps = ms.Parameter(ms.Tensor(np.int32(0)), name="good_steps", requires_grad=False)
        self.overflow_steps = ms.Parameter(ms.Tensor(np.int32(0)), name="overflow_steps", requires_grad=False)

    def unscale(self, grads):
        """grads / scale, gradient by gradient."""
        inverse = 1.0 / self.scale_value
        return tuple(g * inverse.astype(g.dtype) for g in grads)

    def update(self, finite):
        """Advance the state after a step whose gradients were ``finite``; returns ``finite``."""
        overflow = ops.logical_not(finite)
        finite = ops.depend(finite, ops.assign_add(self.overflow_steps, overflow.astype(ms.int32)))
        if self.mode == "dynamic":
            good = (self.good_steps + 1) * finite.astype(ms.int32)
            grow = good >= self.window
            scale = self.scale_value
            new_scale = ops.select(finite, ops.select(grow, scale * self.factor, scale),
                                   ops.maximum(scale / self.factor, ops.ones_like(scale)))
            finite = ops.depend(finite, ops.assign(self.scale_value, new_scale))
            finite = ops.depend(finite, ops.assign(self.good_steps, ops.select(grow, ops.zeros_like(good), good)))
        return finite


def build_loss_scaler(config):
    """The LossScaler of ``config``'s ``loss_scale`` keys."""
    return LossScaler(config.loss_scale, config.loss_scale_value, config.loss_scale_factor, config.loss_scale_window)


def apply_if_finite(scaler, optimizer, grads, value):
    """Unscale the (reduced) ``grads``, apply ``optimizer`` if they are all finite, advance the
    scaler. Returns (``value`` after all that, the overflow flag as a float32 scalar: 1 when the
    update was skipped), the step statistic the train steps report."""
    if not scaler.checks:
        return ops.depend(value, optimizer(grads)), ops.zeros((), ms.float32)
    grads = scaler.unscale(grads)
    finite = ms.amp.all_finite(grads)
    if finite:
        value = ops.depend(value, optimizer(grads))
    return value, ops.logical_not(scaler.update(finite)).astype(ms.float32)
