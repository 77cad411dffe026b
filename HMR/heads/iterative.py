"""HMR's iterative error-feedback regressor, in the two published layouts.

Both heads start from mean parameters and refine them ``num_iterations`` times with shared
weights, ``params += delta(feature, params)``. They also return the pose and shape of every
iteration: the TF reference shows all of them to the discriminator.

- :class:`AxisAngleRegressor` (Kanazawa et al.): theta = ``[cam 3 | pose 72 | betas 10]``,
  fc 1024 -> ReLU -> dropout -> fc 1024 -> ReLU -> dropout -> fc 85 (small init).
- :class:`Rot6dRegressor` (SPIN / mmpose): input ``[feature, pose 144, shape 10, cam 3]``,
  ``fc1, fc2`` without ReLU, heads ``decpose, decshape, deccam``; buffers ``init_pose``,
  ``init_shape``, ``init_cam`` as in SPIN's state dict.

Dropout is driven by an explicit noise tensor (uniform [0, 1), shape
``(num_iterations, 2, B, 1024)``) instead of a stateful random op: training is then
exactly reproducible and resumable on every backend; ``noise=None`` means no dropout.

Meta-HMR's "fast" parameters are the head's dense layers (``fast_layers``; weight then bias
of each). ``construct(..., fast=None)`` runs the head with the given tensors in their place
(``(W (out, in), b (out,))`` per layer, in ``fast_layers`` order), so an adapted copy of
those weights can be evaluated without writing it into the Parameters.
"""
import numpy as np
from mindspore import Parameter, Tensor, nn, ops
from mindspore.common.initializer import XavierUniform

from HMR.constants import NUM_BETAS, NUM_POSE_PARAMS, NUM_SMPL_JOINTS
from HMR.heads.pose_decoders import AxisAngleDecoder, SixDDecoder
from HMR.outputs import THETA_BETAS, THETA_CAM, THETA_POSE

HIDDEN = 1024
DROPOUT = 0.5
FINAL_GAIN = 0.01       # "small init" of the last layer
DEFAULT_CAM = (0.9, 0.0, 0.0)
BBOX_INFO_SIZE = 3      # CLIFF's crop description (src/data/frame.py bbox_info)


def default_mean_params():
    """Built-in mean parameters: rest pose with the root turned by pi about x (image y
    points down), zero shape, cam (0.9, 0, 0). Returns (pose (72,), shape (10,), cam (3,))."""
    pose = np.zeros(NUM_POSE_PARAMS, np.float32)
    pose[0] = np.pi
    return pose, np.zeros(NUM_BETAS, np.float32), np.asarray(DEFAULT_CAM, np.float32)


def mean_theta(mean_params):
    """(85,) float32 ``[cam | pose axis-angle | betas]`` of ``{"rotmats": (24, 3, 3), "shape", "cam"}`` (or
    of ``{"theta": (85,)}``, given as it is)."""
    if "theta" in mean_params:
        return np.asarray(mean_params["theta"], np.float32)
    from scipy.spatial.transform import Rotation
    pose = Rotation.from_matrix(mean_params["rotmats"]).as_rotvec().reshape(NUM_POSE_PARAMS)
    return np.concatenate([mean_params["cam"], pose, mean_params["shape"]]).astype(np.float32)


def mean_rot6d(mean_params):
    """(pose (144,), shape (10,), cam (3,)) float32 of ``{"rotmats": (24, 3, 3), "shape", "cam"}``: each
    rotation's first two columns, SPIN's ``smpl_mean_params.npz`` layout (or of ``{"pose": (144,), ...}``,
    given as it is)."""
    pose = mean_params["pose"] if "pose" in mean_params else np.asarray(mean_params["rotmats"])[:, :, :2]
    return (np.asarray(pose).reshape(6 * NUM_SMPL_JOINTS).astype(np.float32),
            np.asarray(mean_params["shape"], np.float32), np.asarray(mean_params["cam"]).astype(np.float32))


def dense_or_fast(layer, x, fast, index):
    """``layer(x)``, or the same affine map with the weight and bias ``fast[2 index], fast[2 index + 1]``."""
    if fast is None:
        return layer(x)
    return ops.matmul(x, fast[2 * index].T) + fast[2 * index + 1]


def fast_parameters(head):
    """The head's fast parameters: weight and bias of every layer in ``head.fast_layers``, in order."""
    return [p for name in head.fast_layers for p in (getattr(head, name).weight, getattr(head, name).bias)]


def noise_dropout(x, noise, rate):
    """Inverted dropout from uniform noise of x's shape."""
    keep = ops.cast(noise >= rate, x.dtype)
    return x * keep / (1.0 - rate)


class AxisAngleRegressor(nn.Cell):
    """Original HMR head.

    Args:
        feature_dim: encoder feature size (2048 for ResNet-50).
        init_theta: (85,) initial ``[cam | pose | betas]``.
        train_mean: the initial theta is a trained parameter, as in the TF reference
            (``tf.Variable(mean, trainable=True)`` in the encoder's variables); False = frozen.
    Input: features (B, F); noise (I, 2, B, 1024) or None; fast: tensors replacing the
        ``fast_layers`` weights, or None; extra graph inputs (unused).
    Output: cam (B, 3), pose axis-angle (B, 72), betas (B, 10), and the pose and betas of
    every iteration, (I * B, 72) and (I * B, 10), iteration-major.
    """

    fast_layers = ("fc1", "fc2", "dec")

    def __init__(self, feature_dim, init_theta, num_iterations=3, dropout=DROPOUT, train_mean=True):
        super().__init__()
        npar = 3 + NUM_POSE_PARAMS + NUM_BETAS
        self.fc1 = nn.Dense(feature_dim + npar, HIDDEN)
        self.fc2 = nn.Dense(HIDDEN, HIDDEN)
        self.dec = nn.Dense(HIDDEN, npar, weight_init=XavierUniform(gain=FINAL_GAIN))
        self.relu = nn.ReLU()
        self.init_theta = Parameter(Tensor(np.asarray(init_theta, np.float32).reshape(1, npar)),
                                    name="init_theta", requires_grad=train_mean)
        self.num_iterations = num_iterations
        self.dropout = dropout

    @classmethod
    def from_mean_params(cls, feature_dim, mean_params, num_iterations=3, train_mean_params=True):
        """The head from ``{"rotmats", "shape", "cam"}`` (the registry's constructor, ``HMR/heads``)."""
        return cls(feature_dim, mean_theta(mean_params), num_iterations, train_mean=train_mean_params)

    @staticmethod
    def pose_decoder():
        """A new :class:`HMR.heads.pose_decoders.AxisAngleDecoder`: its pose is axis-angle already."""
        return AxisAngleDecoder()

    def construct(self, features, noise=None, fast=None, *extra):
        theta = self.init_theta + features[:, :1] * 0.0          # (B, 85); works for a dynamic batch
        stages = []
        for i in range(self.num_iterations):
            h = self.relu(dense_or_fast(self.fc1, ops.concat([features, theta], 1), fast, 0))
            if noise is not None:
                h = noise_dropout(h, noise[i, 0], self.dropout)
            h = self.relu(dense_or_fast(self.fc2, h, fast, 1))
            if noise is not None:
                h = noise_dropout(h, noise[i, 1], self.dropout)
            theta = theta + dense_or_fast(self.dec, h, fast, 2)
            stages.append(theta)
        stages = ops.concat(stages, 0)                           # (I * B, 85), iteration-major
        return (theta[:, THETA_CAM], theta[:, THETA_POSE], theta[:, THETA_BETAS], stages[:, THETA_POSE],
                stages[:, THETA_BETAS])


class SixDPose:
    """A 6D head's pose parameterisation: 24 x 6 numbers in the layout ``rot6d_layout``
    (``HMR.geometry.ROT6D_LAYOUTS``)."""

    rot6d_layout = "spin"

    def pose_decoder(self):
        """A new :class:`HMR.heads.pose_decoders.SixDDecoder` of this head's layout."""
        return SixDDecoder(self.rot6d_layout)


class Rot6dRegressor(SixDPose, nn.Cell):
    """SPIN / mmpose head (6D rotations); with ``condition_dim=3`` CLIFF's (Li et al. 2022), whose
    every iteration also sees the crop's ``bbox_info`` (``src.data.frame.bbox_info``) right after
    the features: ``fc1([features, bbox_info, pose, shape, cam])``.

    Args:
        feature_dim: encoder feature size.
        init_pose: (144,) 6D mean pose; init_shape: (10,); init_cam: (3,).
        condition_dim: size of the extra input after the features (0: SPIN, 3: CLIFF).
    Input: features (B, F); noise (I, 2, B, 1024) or None; fast: tensors replacing the
        ``fast_layers`` weights, or None; extra graph inputs: the first is the condition
        (B, condition_dim) when ``condition_dim > 0`` (CLIFF's ``bbox_info``), else unused.
    Output: cam (B, 3), pose 6D (B, 144), betas (B, 10), and the pose and betas of every
    iteration, (I * B, 144) and (I * B, 10), iteration-major.
    """

    fast_layers = ("fc1", "fc2", "decpose", "decshape", "deccam")

    def __init__(self, feature_dim, init_pose, init_shape, init_cam, num_iterations=3, dropout=DROPOUT,
                 condition_dim=0):
        super().__init__()
        npose = 6 * NUM_SMPL_JOINTS
        self.fc1 = nn.Dense(feature_dim + condition_dim + npose + NUM_BETAS + 3, HIDDEN)
        self.condition_dim = condition_dim
        self.fc2 = nn.Dense(HIDDEN, HIDDEN)
        self.decpose = nn.Dense(HIDDEN, npose, weight_init=XavierUniform(gain=FINAL_GAIN))
        self.decshape = nn.Dense(HIDDEN, NUM_BETAS, weight_init=XavierUniform(gain=FINAL_GAIN))
        self.deccam = nn.Dense(HIDDEN, 3, weight_init=XavierUniform(gain=FINAL_GAIN))
        self.init_pose = Parameter(Tensor(np.asarray(init_pose, np.float32).reshape(1, npose)),
                                   name="init_pose", requires_grad=False)
        self.init_shape = Parameter(Tensor(np.asarray(init_shape, np.float32).reshape(1, NUM_BETAS)),
                                    name="init_shape", requires_grad=False)
        self.init_cam = Parameter(Tensor(np.asarray(init_cam, np.float32).reshape(1, 3)),
                                  name="init_cam", requires_grad=False)
        self.num_iterations = num_iterations
        self.dropout = dropout

    @classmethod
    def from_mean_params(cls, feature_dim, mean_params, num_iterations=3, train_mean_params=True):
        """The head from ``{"rotmats", "shape", "cam"}`` (the registry's constructor).
        ``train_mean_params`` does not apply: SPIN's ``init_*`` are frozen buffers."""
        return cls(feature_dim, *mean_rot6d(mean_params), num_iterations)

    @classmethod
    def cliff_from_mean_params(cls, feature_dim, mean_params, num_iterations=3, train_mean_params=True):
        """CLIFF's head: this one with the 3 ``bbox_info`` numbers as its condition (the registry's ``cliff``)."""
        return cls(feature_dim, *mean_rot6d(mean_params), num_iterations, condition_dim=BBOX_INFO_SIZE)

    def construct(self, features, noise=None, fast=None, *extra):
        zero = features[:, :1] * 0.0                             # (B, 1); works for a dynamic batch
        pose, shape, cam = self.init_pose + zero, self.init_shape + zero, self.init_cam + zero
        inputs = ops.concat([features, extra[0]], 1) if self.condition_dim else features
        poses, shapes = [], []
        for i in range(self.num_iterations):
            h = dense_or_fast(self.fc1, ops.concat([inputs, pose, shape, cam], 1), fast, 0)
            if noise is not None:
                h = noise_dropout(h, noise[i, 0], self.dropout)
            h = dense_or_fast(self.fc2, h, fast, 1)
            if noise is not None:
                h = noise_dropout(h, noise[i, 1], self.dropout)
            pose = pose + dense_or_fast(self.decpose, h, fast, 2)
            shape = shape + dense_or_fast(self.decshape, h, fast, 3)
            cam = cam + dense_or_fast(self.deccam, h, fast, 4)
            poses.append(pose)
            shapes.append(shape)
        return cam, pose, shape, ops.concat(poses, 0), ops.concat(shapes, 0)
