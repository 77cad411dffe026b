"""VPoser v1's decoder (Pavlakos et al. 2019, ``human_body_prior`` 0.x ``vposer_smpl.py``, the ``snapshot`` model
3DCrowdNet loads): a 32-d latent code -> the 21 body joints' rotations (SMPL joints 1..21: no root, no hands).

Parameter names are the snapshot's (``bodyprior_dec_fc1``, ``bodyprior_dec_fc2``, ``bodyprior_dec_out``), so a
VPoser snapshot's decoder maps name for name (``src/convert/crowdnet_format.py``). Layers: Linear 32 -> 512,
LeakyReLU(0.2), dropout (p 0.1), Linear 512 -> 512, LeakyReLU(0.2), Linear 512 -> 21 x 6, each 6-vector read as
a 3 x 2 matrix whose columns are Gram-Schmidt-orthonormalised (``ContinousRotReprDecoder``: SPIN's 6D layout).

Dropout: 3DCrowdNet calls ``vposer.eval()`` once, but ``model.train()`` puts it back in training mode, so its
training runs the decoder with dropout active (``common/base.py``, ``main/model.py``); the noise is explicit here
(``keep_noise``), as the other dropouts in this project, so training stays reproducible.
"""
from mindspore import nn, ops

from HMR.constants import VPOSER_HIDDEN, VPOSER_JOINTS, VPOSER_LATENT
from HMR.geometry import rot6d_to_rotmat

VPOSER_DROPOUT = 0.1
LEAKY_SLOPE = 0.2


class VPoserDecoder(nn.Cell):
    """VPoser v1's decoder.

    Args:
        latent: code size (32); hidden: units (512); joints: rotations out (21).
    Input: z (B, latent); keep_noise (B, hidden) uniform in [0, 1) for the dropout, or None (no dropout).
    Output: rotation matrices (B, joints, 3, 3) of SMPL joints 1..joints.
    """

    def __init__(self, latent=VPOSER_LATENT, hidden=VPOSER_HIDDEN, joints=VPOSER_JOINTS):
        super().__init__()
        self.bodyprior_dec_fc1 = nn.Dense(latent, hidden)
        self.bodyprior_dec_fc2 = nn.Dense(hidden, hidden)
        self.bodyprior_dec_out = nn.Dense(hidden, joints * 6)
        self.joints, self.hidden = joints, hidden

    def construct(self, z, keep_noise=None):
        x = ops.leaky_relu(self.bodyprior_dec_fc1(z), LEAKY_SLOPE)
        if keep_noise is not None:
            x = x * ops.cast(keep_noise >= VPOSER_DROPOUT, x.dtype) * (1.0 / (1.0 - VPOSER_DROPOUT))
        x = ops.leaky_relu(self.bodyprior_dec_fc2(x), LEAKY_SLOPE)
        x = self.bodyprior_dec_out(x)
        return rot6d_to_rotmat(x.reshape(-1, self.joints, 6), "spin")


class VPoserEncoder(nn.Cell):
    """VPoser v1's encoder (for training a VPoser): axis-angle (B, joints * 3) -> (mean, scale) of q(z | pose), each
    (B, latent); names ``bodyprior_enc_*`` as the snapshot. BatchNorm, Linear, LeakyReLU(0.2), BatchNorm, dropout,
    Linear, LeakyReLU(0.2), then ``mu`` and ``softplus(logvar)`` (v1 calls the scale 'logvar' but uses it as the
    standard deviation)."""

    def __init__(self, latent=VPOSER_LATENT, hidden=VPOSER_HIDDEN, joints=VPOSER_JOINTS):
        super().__init__()
        features = joints * 3
        self.bodyprior_enc_bn1 = nn.BatchNorm1d(features, momentum=0.9)
        self.bodyprior_enc_fc1 = nn.Dense(features, hidden)
        self.bodyprior_enc_bn2 = nn.BatchNorm1d(hidden, momentum=0.9)
        self.bodyprior_enc_fc2 = nn.Dense(hidden, hidden)
        self.bodyprior_enc_mu = nn.Dense(hidden, latent)
        self.bodyprior_enc_logvar = nn.Dense(hidden, latent)

    def construct(self, pose, keep_noise=None):
        x = ops.leaky_relu(self.bodyprior_enc_fc1(self.bodyprior_enc_bn1(pose)), LEAKY_SLOPE)
        x = self.bodyprior_enc_bn2(x)
        if keep_noise is not None:
            x = x * ops.cast(keep_noise >= VPOSER_DROPOUT, x.dtype) * (1.0 / (1.0 - VPOSER_DROPOUT))
        x = ops.leaky_relu(self.bodyprior_enc_fc2(x), LEAKY_SLOPE)
        return self.bodyprior_enc_mu(x), ops.softplus(self.bodyprior_enc_logvar(x))
