"""3DCrowdNet (Choi et al., CVPR 2022, ``hongsukchoi/3DCrowdNet_RELEASE`` ``main/model.py``) and HAP's 3D model
(``junkunyuan/HAP`` ``downstream_tasks/3d_pose_estimation/3DCrowdNet_RELEASE``: the same with a ViT-B).

An image crop and a 2D pose of the person to reconstruct go in. The 2D pose (30 joints, ``CROWD30_NAMES``, in the
64 x 64 heatmap grid of the 256 x 256 crop) is drawn as Gaussians (sigma 2.5), masked, brought to the early
features' grid (nearest: ``F.interpolate``'s default) and fused with them (``pose2feat``: Conv3x3 + BN + ReLU);
the backbone's late part turns the fusion into the pose-guided features (ResNet-50: 2048 x 8 x 8; the ViT's
16 x 16 map is subsampled to 8 x 8 (nearest) and lifted to 2048 channels by ``vit_conv_layer``, 1 x 1).
PositionNet locates 15 joints in an 8^3 voxel grid, RotationNet regresses the root (6D), VPoser's code, the
betas and the camera, VPoser's decoder gives the 21 body rotations (hands zero), SMPL the mesh.

Camera (``get_camera_trans``): ``t = (c0, c1, k sigmoid(c2))``, ``k = f * 2.5 m / 256`` with the virtual focal
f = 5000 px at the 256 px crop, principal point at its centre. In this project's ``cam = (s, tx, ty)`` of a
focal-5000-at-256 crop camera (HMR 2.0's, ``t_z = 2 f / (256 s)``) that is ``s = (2 / 2.5) (1 + exp(-c2))``.

Inputs are images in [0, 1] (``image_normalization: unit``: no mean or standard deviation), joints (B, 30, 2)
and joints_mask (B, 30, 1) (0 for a missing or truncated joint: its Gaussian is removed).
"""
import numpy as np
from mindspore import Tensor, nn, ops
from mindspore.common.initializer import Normal, Zero

from HMR.backbones import build_backbone
from HMR.cameras import build_camera
from HMR.constants import (CROWD15_NAMES, CROWD_CAMERA_3D_SIZE, CROWD_FACE_VERTICES, CROWD_FOCAL,
                           CROWD_HEAD_TOP_EXTRA_ROW, CROWD_HEATMAP_SIGMA, CROWD_HEATMAP_SIZE, CROWD_INPUT_SIZE,
                           CROWD_VOXELS, NUM_SMPL_JOINTS, VPOSER_JOINTS)
from HMR.geometry import batch_rodrigues, rot6d_to_rotmat, rotmat_to_axis_angle
from HMR.heads.crowdnet import CONV_INIT_STD, PositionNet, RotationNet
from HMR.precision import as_float32, set_cell_precision
from HMR.smpl.vposer import VPoserDecoder

CROWD_FEATURE_DIM = 2048
# k of t_z = k sigmoid(c): sqrt(fx fy 2.5^2 / (256 * 256))
CROWD_DEPTH_GAIN = CROWD_FOCAL * CROWD_CAMERA_3D_SIZE / CROWD_INPUT_SIZE
# the exported graph's outputs: 3DCrowdNet's test outputs (model.py) and the camera translation
CROWDNET_OUTPUTS = ("joint_img", "joint_score", "joint_proj", "joint_cam", "smpl_mesh_cam", "smpl_pose", "smpl_shape",
                    "cam_param", "cam_trans")
(JOINT_IMG, JOINT_SCORE, JOINT_PROJ, JOINT_CAM, SMPL_MESH_CAM, SMPL_POSE, SMPL_SHAPE, CAM_PARAM,
 CAM_TRANS) = range(len(CROWDNET_OUTPUTS))


def gaussian_heatmaps(joints, mask, size=CROWD_HEATMAP_SIZE, sigma=CROWD_HEATMAP_SIGMA):
    """``make_2d_gaussian_heatmap`` times the mask: joints (B, J, 2) in grid cells, mask (B, J, 1) ->
    (B, J, size, size) = ``exp(-((u - x)^2 + (v - y)^2) / (2 sigma^2))``."""
    cells = Tensor(np.arange(size, dtype=np.float32))
    gx = ops.exp(-0.5 * ops.square((cells - joints[:, :, 0:1]) * (1.0 / sigma)))          # (B, J, size)
    gy = ops.exp(-0.5 * ops.square((cells - joints[:, :, 1:2]) * (1.0 / sigma)))
    return gy.expand_dims(-1) * gx.expand_dims(-2) * mask.expand_dims(-1)


def nearest_subsample(maps, size):
    """``F.interpolate(maps, size=(size, size))`` (nearest) for a map whose side is a multiple of ``size``:
    every (side / size)-th row and column from the first."""
    step = maps.shape[2] // size
    return maps if step == 1 else maps[:, :, ::step, ::step]


def crowd30_regressor(smpl_regressor, extra_regressor):
    """The 30 joints' regressor (30, V) (``utils/smpl.py``): SMPL's ``J_regressor`` (24, V), one-hot rows of the five
    face vertices, ``J_regressor_extra.npy``'s head-top row (of its (9, V))."""
    smpl_regressor, extra_regressor = np.asarray(smpl_regressor), np.asarray(extra_regressor)
    face = np.zeros((len(CROWD_FACE_VERTICES), smpl_regressor.shape[1]))
    face[np.arange(len(CROWD_FACE_VERTICES)), CROWD_FACE_VERTICES] = 1.0
    return np.concatenate([smpl_regressor, face, extra_regressor[CROWD_HEAD_TOP_EXTRA_ROW:CROWD_HEAD_TOP_EXTRA_ROW + 1]],
                          0).astype(np.float32)


class Pose2Feat(nn.Cell):
    """``Pose2Feat`` / ``Pose2FeatVit``: concat(early features, heatmaps) -> Conv3x3 + BN + ReLU (``conv.0``,
    ``conv.1``). (B, C + J, h, w) -> (B, C, h, w)."""

    def __init__(self, channels, joints):
        super().__init__()
        self.conv = nn.SequentialCell([
            nn.Conv2d(channels + joints, channels, 3, pad_mode="pad", padding=1, has_bias=True,
                      weight_init=Normal(CONV_INIT_STD), bias_init=Zero()),
            nn.BatchNorm2d(channels, momentum=0.9), nn.ReLU()])

    def construct(self, features, heatmaps):
        return self.conv(ops.concat([features, heatmaps], 1))


class CrowdNet(nn.Cell):
    """3DCrowdNet / HAP-3D.

    Args:
        smpl: :class:`HMR.smpl.SMPL`.
        regressor30: (30, V) the 30 joints' regressor (``crowd30_regressor``).
        backbone: a splitting backbone's registry name (``resnet``: 3DCrowdNet; ``vit_b16``: HAP) and its options.
        feature_dim: channels PositionNet and RotationNet read (2048); a backbone with fewer gets ``vit_conv_layer``.
        camera, camera_options: the model camera (``crop_perspective``, focal 5000 / 256) for ``keypoints2d``.
    ``predict(images, joints, joints_mask, noise=None)`` -> ``CROWDNET_OUTPUTS``, 3DCrowdNet's units: joint_img
        (B, 15, 3) in the 64-grid (voxel * 8); joint_score (B, 15, 1); joint_proj (B, 30, 2) 64-grid; joint_cam
        (B, 30, 3) m root-relative; smpl_mesh_cam (B, V, 3) m root-relative; smpl_pose (B, 72) axis-angle;
        smpl_shape (B, 10); cam_param (B, 3) raw; cam_trans (B, 3) m.
    ``construct(images, noise, joints, joints_mask)`` -> ``HMR.outputs.MODEL_OUTPUTS`` as every family's.
    noise: None, or (B, R) uniform: VPoser's dropout (512) then, for a ViT, its drop path (2 * depth).
    """

    def __init__(self, smpl, regressor30, backbone="resnet", backbone_options=None, feature_dim=CROWD_FEATURE_DIM,
                 camera="crop_perspective", camera_options=None):
        super().__init__()
        self.backbone = build_backbone(backbone, **dict(backbone_options or {}))
        self.backbone_takes_noise = bool(getattr(self.backbone, "takes_noise", False))
        joints = regressor30.shape[0]
        self.pose2feat = Pose2Feat(self.backbone.early_dim, joints)
        self.vit_conv_layer = None
        if self.backbone.feature_dim != feature_dim:
            # HAP: Conv2d(768, 2048, 1); HAP's trainer leaves it out of its optimiser, trained here (README)
            self.vit_conv_layer = nn.Conv2d(self.backbone.feature_dim, feature_dim, 1, has_bias=True)
        self.position_net = PositionNet(feature_dim, len(CROWD15_NAMES), CROWD_VOXELS)
        self.rotation_net = RotationNet(feature_dim, len(CROWD15_NAMES))
        self.vposer = VPoserDecoder()
        for parameter in self.vposer.get_parameters():
            parameter.requires_grad = False         # frozen, in no optimiser (base.py)
        self.smpl = smpl
        self.regressor30 = Tensor(np.asarray(regressor30, np.float32))
        self.camera = build_camera(camera, **dict(camera_options or {}))
        self.hidden = self.vposer.hidden
        self.amp_level = "O0"

    @property
    def train_noise_shape(self):
        """Per-sample shape (1, 1, R) of the training noise: VPoser's dropout (512), then the ViT's drop path
        (2 x depth) (``src.data.sources.TrainSource``)."""
        return (1, 1, self.hidden + (2 * self.backbone.depth if self.backbone_takes_noise else 0))

    @property
    def encoder(self):
        """The backbone, under the name the training options (``freeze_batchnorm``, ``layer_decay``) read."""
        return self.backbone

    def use_mixed_precision(self, level):
        """The image network (backbone, pose2feat) at AMP ``level`` (``HMR.precision``); the pose-guided features
        are cast to float32 before PositionNet, RotationNet, VPoser and SMPL."""
        set_cell_precision(self.backbone, level)
        set_cell_precision(self.pose2feat, level)
        self.amp_level = level
        return self

    def _features(self, images, joints, joints_mask, noise):
        """Pose-guided features (B, feature_dim, 8, 8)."""
        vit_noise = None
        if noise is not None and self.backbone_takes_noise:
            vit_noise = ops.transpose(noise[:, self.hidden:].reshape(-1, 2, self.backbone.depth), (1, 0, 2))
        early = self.backbone.early(images, vit_noise) if self.backbone_takes_noise else self.backbone.early(images)
        heatmaps = nearest_subsample(gaussian_heatmaps(joints, joints_mask), early.shape[2]).astype(early.dtype)
        fused = self.pose2feat(early, heatmaps)
        late = self.backbone.late(fused, vit_noise) if self.backbone_takes_noise else self.backbone.late(fused)
        (late,) = as_float32(self.amp_level, late)
        if self.vit_conv_layer is not None:
            late = self.vit_conv_layer(nearest_subsample(late, CROWD_VOXELS))
        return late

    def _forward(self, images, joints, joints_mask, noise):
        """(joint_img voxels, joint_score, rotmats (B, 24, 3, 3), betas, cam_param)."""
        features = self._features(images, joints, joints_mask, noise)
        joint_img, joint_score = self.position_net(features)
        root6d, code, betas, cam_param = self.rotation_net(features, joint_img, joint_score)
        root = rot6d_to_rotmat(root6d, "spin").expand_dims(1)
        body = self.vposer(code, None if noise is None else noise[:, :self.hidden])
        # the hands' zero rotations (identities; built from the root's shape: an Eye would not export)
        hands = ops.tile(root * 0.0 + Tensor(np.eye(3, dtype=np.float32)), (1, NUM_SMPL_JOINTS - 1 - VPOSER_JOINTS, 1, 1))
        return joint_img, joint_score, ops.concat([root, body, hands], 1), betas, cam_param

    def predict(self, images, joints, joints_mask, noise=None):
        joint_img, joint_score, rotmats, betas, cam_param = self._forward(images, joints, joints_mask, noise)
        vertices, _ = self.smpl(betas, rotmats)
        cam_trans = ops.concat([cam_param[:, :2], ops.sigmoid(cam_param[:, 2:3]) * CROWD_DEPTH_GAIN], 1)
        joint_cam = ops.matmul(self.regressor30, vertices) + cam_trans.expand_dims(1)
        # project with focal 5000 about the crop centre, then into the 64-grid (model.py get_coord)
        depth = joint_cam[:, :, 2:3] + 1e-4
        joint_proj = (joint_cam[:, :, :2] / depth * CROWD_FOCAL + CROWD_INPUT_SIZE / 2) * \
            (CROWD_HEATMAP_SIZE / CROWD_INPUT_SIZE)
        root = joint_cam[:, :1]
        mesh_cam = vertices + cam_trans.expand_dims(1) - root
        pose = rotmat_to_axis_angle(rotmats).reshape(-1, NUM_SMPL_JOINTS * 3)
        return (joint_img * (CROWD_HEATMAP_SIZE / CROWD_VOXELS), joint_score, joint_proj, joint_cam - root, mesh_cam,
                pose, betas, cam_param, cam_trans)

    def construct(self, images, noise=None, joints=None, joints_mask=None):
        _, _, rotmats, betas, cam_param = self._forward(images, joints, joints_mask, noise)
        return model_outputs(self.smpl, self.camera, betas, rotmats, cam_param)


def model_outputs(smpl, camera, betas, rotmats, cam_param):
    """``HMR.outputs.MODEL_OUTPUTS`` of the SMPL parameters and the raw camera: cam (B, 3) = (s, tx, ty) with
    ``s = (2 / 2.5) (1 + exp(-c2))`` (``t_z = 2 f / (256 s) = k sigmoid(c2)``), pose (B, 72) axis-angle, betas,
    rotmats (B, 24, 3, 3), vertices and keypoints in the body frame, keypoints2d by ``camera``."""
    vertices, joints24 = smpl(betas, rotmats)
    joints3d = smpl.keypoints(vertices, joints24)
    scale = (2.0 / CROWD_CAMERA_3D_SIZE) * (1.0 + ops.exp(-cam_param[:, 2:3]))
    cam = ops.concat([scale, cam_param[:, :2]], 1)
    pose = rotmat_to_axis_angle(rotmats).reshape(-1, NUM_SMPL_JOINTS * 3)
    return cam, pose, betas, rotmats, vertices, joints3d, camera(joints3d, cam)


class CrowdNetGraphDecoder(nn.Cell):
    """The exported graph's ``CROWDNET_OUTPUTS`` and its inputs -> ``MODEL_OUTPUTS``, as the model returns them,
    for the jobs that run exported graphs (the rotations from ``smpl_pose``, the camera from ``cam_param``).

    Inputs: the graph's outputs in ``CROWDNET_OUTPUTS`` order, then joints and joints_mask."""

    def __init__(self, smpl, camera="crop_perspective", camera_options=None):
        super().__init__()
        self.smpl = smpl
        self.camera = build_camera(camera, **dict(camera_options or {"focal_over_crop": CROWD_FOCAL / CROWD_INPUT_SIZE}))

    def construct(self, *inputs):
        rotmats = batch_rodrigues(inputs[SMPL_POSE].reshape(-1, 3)).reshape(-1, NUM_SMPL_JOINTS, 3, 3)
        return model_outputs(self.smpl, self.camera, inputs[SMPL_SHAPE], rotmats, inputs[CAM_PARAM])
