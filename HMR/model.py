"""The assembled model: backbone -> regression head -> SMPL -> 2D keypoints in the crop.

The backbone and the head are chosen by name (``HMR/backbones``, ``HMR/heads``). One class
serves training, evaluation and export, at any batch size.
"""
from mindspore import nn

from HMR.backbones import build_backbone
from HMR.constants import NUM_SMPL_JOINTS, SMPL_TO_LSP14
from HMR.geometry import (batch_rodrigues, full_frame_crop_projection, rot6d_to_rotmat, rotmat_to_axis_angle,
                          weak_perspective_projection)
from HMR.heads import build_head
from HMR.smpl.lbs import take


class HMR(nn.Cell):
    """HMR (Kanazawa et al. 2018), with the original or the SPIN/mmpose pose head.

    Args:
        smpl: :class:`HMR.smpl.layer.SMPL` layer (its constants are not parameters).
        backbone_depth, backbone_width: ResNet encoder (50 and 64 for HMR).
        pose_head: the head's registry name, ``axis_angle``, ``rot6d`` or ``cliff`` (6D, with bbox_info).
        mean_params: for ``axis_angle`` a dict with ``theta`` (85,); for ``rot6d`` a dict
            with ``pose`` (144,), ``shape`` (10,), ``cam`` (3,).
        num_iterations: regressor iterations (3).
        train_mean_params: ``axis_angle`` only - the initial theta trains with the encoder
            (TF HMR); the ``rot6d`` head's mean parameters are frozen buffers (SPIN).
        backbone: the backbone's registry name (``resnet``).
    Input:
        images (B, 3, H, W) normalised RGB; noise (I, 2, B, 1024) uniform for dropout, or None;
        bbox_info (B, 3) for a head that takes it (CLIFF: ``src.data.frame.bbox_info``), else None.
    Output (tuple):
        cam (B, 3) as (s, tx, ty); pose (B, 72) axis-angle; betas (B, 10);
        rotmats (B, 24, 3, 3); vertices (B, 6890, 3) metres; joints3d (B, K, 3) the model's
        keypoint set in metres (cocoplus 19 when the body model has that regressor, else
        LSP 14 from SMPL joints; the first 14 are LSP 14 either way); keypoints2d (B, K, 2)
        in normalised crop coordinates [-1, 1]: HMR's weak-perspective projection, or for
        CLIFF the full-image perspective projection brought into the crop.
    """

    def __init__(self, smpl, backbone_depth=50, backbone_width=64, pose_head="axis_angle", mean_params=None,
                 num_iterations=3, train_mean_params=True, backbone="resnet"):
        super().__init__()
        self.encoder = build_backbone(backbone, depth=backbone_depth, width=backbone_width)
        self.regressor = build_head(pose_head, self.encoder.feature_dim, mean_params, num_iterations,
                                    train_mean_params=train_mean_params)
        self.smpl = smpl
        self.pose_head = pose_head
        self.takes_bbox_info = getattr(self.regressor, "condition_dim", 0) > 0
        self.full_frame_camera = pose_head == "cliff"
        self.use_cocoplus = "cocoplus" in smpl.regressor_names
        self.num_keypoints = 19 if self.use_cocoplus else len(SMPL_TO_LSP14)

    def construct(self, images, noise=None, bbox_info=None):
        return self.forward_all_iterations(images, noise, bbox_info)[:7]

    def rotation_matrices(self, pose_params):
        """The head's pose (B, 72) axis-angle or (B, 144) 6D -> rotation matrices (B, 24, 3, 3)."""
        if self.pose_head == "axis_angle":
            return batch_rodrigues(pose_params.reshape(-1, 3)).reshape(-1, NUM_SMPL_JOINTS, 3, 3)
        return rot6d_to_rotmat(pose_params.reshape(-1, NUM_SMPL_JOINTS, 6))

    def forward_all_iterations(self, images, noise=None, bbox_info=None):
        """The seven outputs above plus the regressor's every iteration, for the adversarial prior:
        rotmats (I * B, 24, 3, 3) and betas (I * B, 10), iteration-major."""
        return self.decode(self.encoder(images), noise, bbox_info)

    def decode(self, features, noise=None, bbox_info=None, fast=None):
        """``forward_all_iterations`` from the encoder's features (B, F); ``fast``: tensors in place of
        the head's fast parameters (``HMR.heads.iterative.fast_parameters`` order), or None."""
        if self.takes_bbox_info:
            cam, pose_params, betas, stage_poses, stage_betas = self.regressor(features, noise, bbox_info, fast)
        else:
            cam, pose_params, betas, stage_poses, stage_betas = self.regressor(features, noise, fast=fast)
        rotmats = self.rotation_matrices(pose_params)
        if self.pose_head == "axis_angle":
            pose = pose_params
        else:
            pose = rotmat_to_axis_angle(rotmats).reshape(-1, NUM_SMPL_JOINTS * 3)
        vertices, smpl_joints = self.smpl(betas, rotmats)
        if self.use_cocoplus:
            joints3d = self.smpl.regress(vertices, "cocoplus")
        else:
            joints3d = take(smpl_joints, SMPL_TO_LSP14)
        if self.full_frame_camera:
            keypoints2d = full_frame_crop_projection(joints3d, cam, bbox_info)
        else:
            keypoints2d = weak_perspective_projection(joints3d, cam)
        return (cam, pose, betas, rotmats, vertices, joints3d, keypoints2d, self.rotation_matrices(stage_poses),
                stage_betas)
