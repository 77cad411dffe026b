"""The two steps of Meta-HMR's test-time adaptation as cells (the loop is ``src/inference/adaptation.py``).

- :class:`FastStep`: one SGD step on the head's fast parameters with Meta-HMR's objective
  against 2D keypoints and the auxiliary network's predictions (every sample has pseudo targets);
- :class:`AdamStep`: one step of a given optimiser on its parameters with the 2D keypoint loss.

Both update the parameters in place and return the loss before their update.
"""
import mindspore as ms
from mindspore import nn, ops

from HMR.graph_call import call
from HMR.heads.iterative import fast_parameters
from HMR.meta_loss import InnerObjective, keypoint_mse, pseudo_targets
from HMR.outputs import KEYPOINTS2D


class FastStep(nn.Cell):
    """construct(images (B, 3, H, W), keypoints (B, K, 3), *extra graph inputs) -> (objective, 2D term).

    Args: model, aux: the HMR Cells (aux frozen); loss: ``MetaHMRLoss``; lr: the SGD step size."""

    def __init__(self, model, aux, loss, lr):
        super().__init__(auto_prefix=False)
        self.model, self.aux = model, aux
        self.grad = ops.value_and_grad(InnerObjective(model, loss), grad_position=0, has_aux=True)
        self.fast = ms.ParameterTuple(fast_parameters(model.regressor))
        self.lr = lr

    def construct(self, images, keypoints, *extra):
        targets = pseudo_targets(call(self.aux, (images, None, *extra)))
        every = keypoints[:, 0, 0] * 0.0 + 1.0
        features = self.model.encode(images)
        (total, kp), grads = call(self.grad, (tuple(self.fast), features, None, keypoints, targets, every, every, *extra))
        for param, grad in zip(self.fast, grads):
            total = ops.depend(total, ops.assign(param, param - self.lr * grad))
        return total, kp


class KeypointLoss(nn.Cell):
    """The 2D term alone: construct(images, keypoints, *extra graph inputs) -> scalar."""

    def __init__(self, model):
        super().__init__(auto_prefix=False)
        self.model = model

    def construct(self, images, keypoints, *extra):
        return keypoint_mse(call(self.model, (images, None, *extra))[KEYPOINTS2D], keypoints)


class AdamStep(nn.Cell):
    """One step of ``optimizer`` (Adam on every trainable parameter) with the 2D loss. -> the loss before it."""

    def __init__(self, model, optimizer):
        super().__init__(auto_prefix=False)
        self.optimizer = optimizer
        self.grad = ms.value_and_grad(KeypointLoss(model), None, optimizer.parameters)

    def construct(self, images, keypoints, *extra):
        value, grads = call(self.grad, (images, keypoints, *extra))
        return ops.depend(value, self.optimizer(grads))
