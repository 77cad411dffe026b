"""Train a VPoser v1 (``HMR/smpl/vposer.py``: the encoder and decoder of ``human_body_prior`` 0.x) on a mocap file's
poses: ``python -m src.training.vposer [--KEY VALUE ...]`` (``mocap_dataset``, ``data_path``, ``seed``) writes
``vposer_path`` (default ``DATA_PATH/vposer_v1.ckpt``) with the snapshot's parameter names (``bodyprior_enc_*``,
``bodyprior_dec_*``), which 3DCrowdNet's model loads into its frozen decoder.

VPoser's weights are licence-gated like SMPL's (``python -m src.convert --from vposer`` converts the real snapshot);
this trains one of the same architecture where none is available, e.g. on the embedded default's synthetic
mocap. The objective is VPoser v1's: a variational auto-encoder of the 21 body joints' axis-angle, reconstruction
of the rotation matrices (squared error summed over a pose's 21 x 9 numbers, averaged over the batch) x 0.995
plus KL(q(z | pose) || N(0, I)) (summed over the code) x 0.005; Adam 1e-3, batch 256.
"""
import logging
import os

import numpy as np

logger = logging.getLogger(__name__)

KL_WEIGHT = 0.005
STEPS, BATCH, LEARNING_RATE = 2000, 256, 1e-3


def _body_poses(path):
    """(N, 63) axis-angle of SMPL joints 1..21 from a mocap npz's ``pose`` (N, 72)."""
    from src.data.schema import load_mocap_npz
    from HMR.constants import VPOSER_JOINTS
    return load_mocap_npz(path)["pose"][:, 3:3 + 3 * VPOSER_JOINTS].astype(np.float32)


def train_vposer(config, output=None, steps=STEPS, batch=BATCH):
    """Train on ``config.mocap_dataset`` and write the checkpoint (atomically). Returns (path, last losses)."""
    import mindspore as ms
    from mindspore import nn, ops

    from HMR.geometry import batch_rodrigues
    from HMR.graph_call import call
    from HMR.smpl.vposer import VPoserDecoder, VPoserEncoder
    from src.builders import dataset_paths
    from model_utils.atomic_files import write_checkpoint
    from src.checkpoints import structural_parameters
    from src.data.model_files import vposer_file

    poses = _body_poses(dataset_paths(config, [config.mocap_dataset])[0])
    encoder, decoder = VPoserEncoder(), VPoserDecoder()

    class Objective(nn.Cell):
        def __init__(self):
            super().__init__()
            self.encoder, self.decoder = encoder, decoder

        def construct(self, pose, eps, keep_encoder, keep_decoder):
            mean, scale = self.encoder(pose, keep_encoder)
            rotmats = self.decoder(mean + scale * eps, keep_decoder)
            target = batch_rodrigues(pose.reshape(-1, 3)).reshape(rotmats.shape)
            reconstruction = ops.mean(ops.sum(ops.square(rotmats - target), (1, 2, 3)))
            kl = ops.mean(ops.sum(-ops.log(scale) + 0.5 * (ops.square(scale) + ops.square(mean)) - 0.5, -1))
            return (1.0 - KL_WEIGHT) * reconstruction + KL_WEIGHT * kl, reconstruction, kl

    objective = Objective()
    objective.set_train(True)
    optimizer = nn.Adam(objective.trainable_params(), learning_rate=LEARNING_RATE)
    grad = ms.value_and_grad(objective, None, optimizer.parameters, has_aux=True)

    @ms.jit
    def step(*inputs):
        (total, reconstruction, kl), grads = call(grad, inputs)
        return ops.depend(total, optimizer(grads)), reconstruction, kl

    rng = np.random.default_rng(config.seed)
    losses = None
    for index in range(steps):
        rows = rng.integers(0, len(poses), batch)
        inputs = (poses[rows], rng.standard_normal((batch, decoder.bodyprior_dec_fc1.in_channels)),
                  rng.random((batch, decoder.hidden)), rng.random((batch, decoder.hidden)))
        losses = [float(v) for v in step(*(ms.Tensor(a.astype(np.float32)) for a in inputs))]
        if index % 500 == 0 or index == steps - 1:
            logger.info("vposer step %d: total %.5f reconstruction %.5f KL %.4f", index, *losses)
    arrays = {name: p.asnumpy() for cell in (encoder, decoder) for name, p in structural_parameters(cell).items()}
    path = write_checkpoint(arrays, output or vposer_file(config))
    logger.info("VPoser trained on %s (%d poses, %d steps) -> %s", config.mocap_dataset, len(poses), steps, path)
    return path, losses


def main(config):
    from src.builders import set_mindspore_context
    from model_utils.logger import setup_logging
    setup_logging(None)
    set_mindspore_context(config)
    return train_vposer(config)


if __name__ == "__main__":
    from model_utils.entry import run_entry
    run_entry(main)
