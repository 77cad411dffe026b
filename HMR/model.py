"""The assembled model: backbone -> regression head -> SMPL -> 2D keypoints in the crop.

The backbone and the head are chosen by name (``HMR/backbones``, ``HMR/heads``). One class
serves training, evaluation and export, at any batch size.
"""
import mindspore as ms
from mindspore import nn

from HMR.backbones import build_backbone
from HMR.constants import HMR2_FOCAL_OVER_CROP, NUM_SMPL_JOINTS, SMPL_TO_LSP14
from HMR.geometry import (batch_rodrigues, crop_perspective_projection, full_frame_crop_projection, rot6d_to_rotmat,
                          rotmat_to_axis_angle, weak_perspective_projection)
from HMR.heads import build_head
from HMR.precision import set_cell_precision
from HMR.smpl.lbs import take


class HMR(nn.Cell):
    """HMR (Kanazawa et al. 2018), with the original or the SPIN/mmpose pose head.

    Args:
        smpl: :class:`HMR.smpl.layer.SMPL` layer (its constants are not parameters).
        backbone_depth, backbone_width: ResNet encoder (50 and 64 for HMR).
        pose_head: the head's registry name, ``axis_angle``, ``rot6d``, ``cliff`` (6D, with bbox_info) or
            ``hmr2`` (HMR 2.0's transformer decoder on the token map).
        mean_params: for ``axis_angle`` a dict with ``theta`` (85,); for ``rot6d`` a dict
            with ``pose`` (144,), ``shape`` (10,), ``cam`` (3,).
        num_iterations: regressor iterations (3).
        train_mean_params: ``axis_angle`` only - the initial theta trains with the encoder
            (TF HMR); the ``rot6d`` head's mean parameters are frozen buffers (SPIN).
        backbone: the backbone's registry name (``resnet``).
        backbone_options: the backbone's constructor options in place of ``depth``/``width`` (ViTs).
        head_options: extra constructor options of the head (HMR 2.0's decoder sizes).
        column_margin: columns cut from either side of the input before the encoder (HMR 2.0: 32 of
            a 256 x 256 crop, ``x[:, :, :, 32:-32]``, so its ViT sees 256 x 192).
    Training may run the encoder and regressor in float16 (:meth:`use_mixed_precision`); every
    output below is float32 either way.
    Input:
        images (B, 3, H, W) normalised RGB; noise (I, 2, B, 1024) uniform for dropout, or None (a
        backbone with stochastic depth takes its own from the last row: (I + 1, 2, B, 1024));
        bbox_info (B, 3) for a head that takes it (CLIFF: ``src.data.frame.bbox_info``), else None.
    Output (tuple):
        cam (B, 3) as (s, tx, ty); pose (B, 72) axis-angle; betas (B, 10);
        rotmats (B, 24, 3, 3); vertices (B, 6890, 3) metres; joints3d (B, K, 3) the model's
        keypoint set in metres (cocoplus 19 when the body model has that regressor, else
        LSP 14 from SMPL joints; the first 14 are LSP 14 either way); keypoints2d (B, K, 2)
        in normalised crop coordinates [-1, 1]: HMR's weak-perspective projection, for CLIFF the
        full-image perspective projection brought into the crop, for HMR 2.0 its crop camera.
    """

    def __init__(self, smpl, backbone_depth=50, backbone_width=64, pose_head="axis_angle", mean_params=None,
                 num_iterations=3, train_mean_params=True, backbone="resnet", backbone_options=None,
                 head_options=None, column_margin=0):
        super().__init__()
        options = dict(depth=backbone_depth, width=backbone_width) if backbone_options is None else backbone_options
        self.encoder = build_backbone(backbone, **options)
        self.regressor = build_head(pose_head, self.encoder.feature_dim, mean_params, num_iterations,
                                    train_mean_params=train_mean_params, **(head_options or {}))
        self.smpl = smpl
        self.pose_head = pose_head
        self.takes_bbox_info = getattr(self.regressor, "condition_dim", 0) > 0
        self.camera = {"cliff": "cliff", "hmr2": "hmr2"}.get(pose_head, "weak")
        self.rot6d_layout = getattr(self.regressor, "rot6d_layout", "spin")
        self.encoder_takes_noise = getattr(self.encoder, "takes_noise", False)
        self.column_margin = column_margin
        self.use_cocoplus = "cocoplus" in smpl.regressor_names
        self.num_keypoints = 19 if self.use_cocoplus else len(SMPL_TO_LSP14)
        self.amp_level = "O0"

    def use_mixed_precision(self, level):
        """Run the encoder and the regressor at AMP ``level`` (``HMR.precision``); their outputs are
        cast back to float32, so SMPL, the projection and everything downstream stay float32."""
        set_cell_precision(self.encoder, level)
        set_cell_precision(self.regressor, level)
        self.amp_level = level
        return self

    def _float32(self, *tensors):
        if self.amp_level == "O0":
            return tensors
        return tuple(t.astype(ms.float32) for t in tensors)

    def construct(self, images, noise=None, bbox_info=None):
        return self.forward_all_iterations(images, noise, bbox_info)[:7]

    def rotation_matrices(self, pose_params):
        """The head's pose (B, 72) axis-angle or (B, 144) 6D -> rotation matrices (B, 24, 3, 3)."""
        if self.pose_head == "axis_angle":
            return batch_rodrigues(pose_params.reshape(-1, 3)).reshape(-1, NUM_SMPL_JOINTS, 3, 3)
        return rot6d_to_rotmat(pose_params.reshape(-1, NUM_SMPL_JOINTS, 6), self.rot6d_layout)

    def encode(self, images, noise=None):
        """The encoder's features of the images (after HMR 2.0's column cut); ``noise`` as in ``construct``."""
        if self.column_margin:
            images = images[:, :, :, self.column_margin:images.shape[3] - self.column_margin]
        if self.encoder_takes_noise and noise is not None:
            features = self.encoder(images, noise[-1, :, :, :self.encoder.depth])
        else:
            features = self.encoder(images)
        return self._float32(features)[0]

    def forward_all_iterations(self, images, noise=None, bbox_info=None):
        """The seven outputs above plus the regressor's every iteration, for the adversarial prior:
        rotmats (I * B, 24, 3, 3) and betas (I * B, 10), iteration-major."""
        return self.decode(self.encode(images, noise), noise, bbox_info)

    def decode(self, features, noise=None, bbox_info=None, fast=None):
        """``forward_all_iterations`` from the encoder's features (B, F); ``fast``: tensors in place of
        the head's fast parameters (``HMR.heads.iterative.fast_parameters`` order), or None."""
        if self.takes_bbox_info:
            cam, pose_params, betas, stage_poses, stage_betas = self.regressor(features, noise, bbox_info, fast)
        else:
            cam, pose_params, betas, stage_poses, stage_betas = self.regressor(features, noise, fast=fast)
        cam, pose_params, betas, stage_poses, stage_betas = self._float32(cam, pose_params, betas, stage_poses,
                                                                          stage_betas)
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
        if self.camera == "cliff":
            keypoints2d = full_frame_crop_projection(joints3d, cam, bbox_info)
        elif self.camera == "hmr2":
            keypoints2d = crop_perspective_projection(joints3d, cam, HMR2_FOCAL_OVER_CROP)
        else:
            keypoints2d = weak_perspective_projection(joints3d, cam)
        return (cam, pose, betas, rotmats, vertices, joints3d, keypoints2d, self.rotation_matrices(stage_poses),
                stage_betas)
