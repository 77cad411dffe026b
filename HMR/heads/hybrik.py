"""HybrIK's regression heads on the pooled image feature (``hybrik/models/HRNetWithCam.py`` and
``simple3dposeSMPLWithCam.py``): the shape as a residual on the mean shape (``decshape`` + ``init_shape``,
HybrIK's ``h36m_mean_beta.npy``), 23 twists as unnormalised (cos, sin) (``decphi``), the camera
(``deccam`` + ``init_cam``: the scale 0.9 for HRNet; scale and translation (0.9, 0, 0) for ResNet) and the
29 joints' uncertainty (``decsigma``, sigmoid). The ResNet model first passes the feature through
``fc1`` and ``fc2`` (1024 each, dropout 0.5 after each, driven by explicit noise as the iterative heads').
"""
import numpy as np
from mindspore import Parameter, Tensor, nn, ops

from HMR.constants import HYBRIK_INIT_CAM_SCALE, HYBRIK_TWIST_JOINTS, NUM_BETAS
from HMR.heads.iterative import DROPOUT, noise_dropout


class HybrIKHead(nn.Cell):
    """Args:
        feature_dim: the pooled feature's width (2048 for HRNet-W48, 512 for ResNet-34).
        init_shape: (10,) the mean betas; init_cam: (1,) or (3,) the camera's start.
        hidden: 0 (HRNet: the heads read the feature) or the width of ``fc1``/``fc2`` (ResNet: 1024).
        num_joints: joints with a sigma (29).
    Input: features (B, F); noise (I, 2, B, 1024) uniform (its first row drives the two dropouts) or None.
    Output: betas (B, 10), twist (B, 23, 2), camera (B, C), sigma (B, num_joints, 1) in (0, 1).
    """

    def __init__(self, feature_dim, init_shape, init_cam, hidden=0, num_joints=29, dropout=DROPOUT):
        super().__init__()
        self.hidden = hidden
        self.dropout = dropout
        width = feature_dim
        if hidden:
            self.fc1 = nn.Dense(feature_dim, hidden)
            self.fc2 = nn.Dense(hidden, hidden)
            width = hidden
        self.decshape = nn.Dense(width, NUM_BETAS)
        self.decphi = nn.Dense(width, HYBRIK_TWIST_JOINTS * 2)
        self.deccam = nn.Dense(width, len(init_cam))
        self.decsigma = nn.Dense(width, num_joints)
        self.init_shape = Parameter(Tensor(np.asarray(init_shape, np.float32)), name="init_shape", requires_grad=False)
        self.init_cam = Parameter(Tensor(np.asarray(init_cam, np.float32)), name="init_cam", requires_grad=False)
        self.num_joints = num_joints

    @classmethod
    def from_mean_params(cls, feature_dim, mean_params, num_iterations=1, hidden=0, camera_numbers=1, num_joints=29):
        """The head with the mean betas of ``mean_params`` (``src/data/model_files.load_mean_params``) and the
        camera's start (HybrIK's scale 0.9, then zero translation for a 3-number camera); one iteration."""
        init_cam = [HYBRIK_INIT_CAM_SCALE] + [0.0] * (camera_numbers - 1)
        return cls(feature_dim, mean_params["shape"], init_cam, hidden, num_joints)

    def construct(self, features, noise=None):
        x = features
        if self.hidden:
            x = self.fc1(x)
            if noise is not None:
                x = noise_dropout(x, noise[0, 0], self.dropout)
            x = self.fc2(x)
            if noise is not None:
                x = noise_dropout(x, noise[0, 1], self.dropout)
        betas = self.decshape(x) + self.init_shape
        twist = self.decphi(x).reshape(-1, HYBRIK_TWIST_JOINTS, 2)
        camera = self.deccam(x) + self.init_cam
        sigma = ops.sigmoid(self.decsigma(x)).reshape(-1, self.num_joints, 1)
        return betas, twist, camera, sigma

