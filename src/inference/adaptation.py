"""Meta-HMR's test-time adaptation: a few gradient steps on the network's weights, per batch.

Per batch (Meta-HMR's ``eval_hmr.run_evaluation``), starting from the trained weights, in
inference mode (BatchNorm running statistics, no dropout):

- step 0: one SGD step (``inner_lr``) on the head's fast parameters with Meta-HMR's objective
  (``HMR/meta_loss.py``) against the batch's 2D keypoints and the frozen auxiliary network's
  predictions (every sample counts as having pseudo SMPL and 3D targets);
- steps 1..N: Adam (``after_innerlr``) on every trainable parameter, encoder included, with
  the 2D keypoint loss alone; stop early when that loss changes by less than
  ``adapt_tolerance`` between steps (the first Adam step is compared with step 0's 2D term);
- the prediction is the adapted network's; then the weights and the Adam state are put back,
  so the next batch starts from the trained model again (Meta-HMR adapts a deep copy and
  discards it; restoring the saved values is the same thing without a second network).

The steps are two compiled cells (``HMR/adaptation.py``; GRAPH_MODE when configured); the
loop and the early stop run on the host.
"""
import numpy as np

from HMR.outputs import GRAPH_OUTPUTS, graph_outputs_of, named
from model_utils.errors import UserInputError
from src.inference.fitting import keypoint_pixel_error


class Adapter:
    """``adapt(images, keypoints, *extra)`` -> the adapted network's outputs and a report.

    Args:
        model: the HMR Cell (its weights are restored after every batch); aux: the auxiliary
            network (frozen); steps: Adam steps after the first one; inner_lr, lr: step sizes;
            tolerance: early stop (0 = never); loss: ``HMR.meta_loss.MetaHMRLoss``;
        crop_height: pixels of the crop's height, for the 2D errors in the report.
    """

    def __init__(self, model, aux, steps, inner_lr, lr, tolerance, loss, crop_height):
        from mindspore import nn

        from HMR.adaptation import AdamStep, FastStep
        from src.checkpoints import optimizer_state
        self.model, self.steps, self.tolerance, self.crop_height = model, steps, tolerance, crop_height
        model.set_train(False)
        aux.set_train(False)
        adam = nn.Adam(model.trainable_params(), learning_rate=lr)
        self.fast_step, self.adam_step = FastStep(model, aux, loss, inner_lr), AdamStep(model, adam)
        self.fast_step.set_train(False)
        self.adam_step.set_train(False)
        network_ids = {id(p) for p in model.get_parameters()}
        self.saved = [(p, p.asnumpy().copy()) for p in model.trainable_params()]
        self.saved += [(p, p.asnumpy().copy()) for p in optimizer_state(adam, network_ids)]

    def restore(self):
        """Put the trained weights and the fresh optimiser state back (in place: ``set_data`` would
        give the parameter a new buffer, which PyNative-mode optimisers do not follow)."""
        import mindspore as ms
        from mindspore import ops
        for param, value in self.saved:
            ops.assign(param, ms.Tensor(value))

    def adapt(self, images, keypoints, *extra):
        """images (B, 3, H, W), keypoints (B, K, 3) normalised + confidence, the architecture's extra inputs.

        Returns (outputs, report): outputs as ``CheckpointPredictor.run_all`` (theta (B, 85),
        vertices, joints3d, keypoints2d) of the adapted network; report: ``steps`` taken (B,)
        and ``keypoint_error_after`` (B,), the 2D error in crop pixels."""
        import mindspore as ms
        inputs = tuple(ms.Tensor(np.ascontiguousarray(x, np.float32)) for x in (images, keypoints, *extra))
        try:
            _, previous = self.fast_step(*inputs)
            previous, taken = float(previous.asnumpy()), 1
            for _ in range(self.steps):
                value = float(self.adam_step(*inputs).asnumpy())
                taken += 1
                if self.tolerance and abs(previous - value) < self.tolerance:
                    break
                previous = value
            outputs = graph_outputs_of(o.asnumpy() for o in self.model(inputs[0], None, *inputs[2:]))
        finally:
            self.restore()
        predicted = named(outputs, GRAPH_OUTPUTS)["keypoints2d"]
        report = {"steps": np.full(len(images), taken, np.int64),
                  "keypoint_error_after": keypoint_pixel_error(predicted, keypoints, self.crop_height)}
        return outputs, report


def build_adapter(config, smpl, model):
    """An Adapter from the config's Meta-HMR keys (None when ``adapt`` is 0). The auxiliary network
    comes from ``src.checkpoints.aux_source``; ``model`` is None when the run has no
    checkpoint (an exported graph), which adaptation cannot change."""
    if config.adapt <= 0:
        return None
    if config.fit_steps:
        raise UserInputError("--fit_steps and --adapt are two test-time methods: choose one")
    if model is None:
        raise UserInputError("--adapt changes the network's weights: it needs a checkpoint (--source ckpt, "
                             "--checkpoint_file_path), not an exported graph")
    from src.builders import build_aux_model, build_meta_loss
    from src.checkpoints import load_aux_weights
    aux = build_aux_model(config, smpl)
    load_aux_weights(config, aux)
    return Adapter(model, aux, config.adapt, config.inner_lr, config.after_innerlr, config.adapt_tolerance,
                   build_meta_loss(config), config.img_size)
