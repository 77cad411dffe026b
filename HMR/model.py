"""The assembled model: backbone -> regression head -> SMPL -> keypoints -> camera into the crop.

The backbone, the head and the camera are chosen by name (``HMR/backbones``, ``HMR/heads``,
``HMR/cameras.py``; ``src/builders.py`` reads the names from the architecture spec). The head owns its
pose parameterisation and the camera its projection, so this class knows none of them. One class
serves training, evaluation and export, at any batch size.
"""
from mindspore import nn

from HMR.backbones import build_backbone
from HMR.cameras import build_camera
from HMR.graph_call import call
from HMR.heads import build_head
from HMR.outputs import MODEL_OUTPUTS
from HMR.precision import as_float32, set_model_precision


class HMR(nn.Cell):
    """HMR (Kanazawa et al. 2018) and the families built like it (SPIN, CLIFF, HMR 2.0).

    Args:
        smpl: :class:`HMR.smpl.layer.SMPL` layer (its constants are not parameters).
        backbone_depth, backbone_width: ResNet encoder (50 and 64 for HMR), when ``backbone_options`` is None.
        pose_head: the head's registry name (``HMR/heads``: ``axis_angle``, ``rot6d``, ``cliff``, ``hmr2``, ...).
        mean_params: ``{"rotmats": (24, 3, 3), "shape": (10,), "cam": (3,)}``; the head turns them into
            its own parameterisation.
        num_iterations: regressor iterations (3).
        train_mean_params: the ``axis_angle`` head's initial theta trains with the encoder (TF HMR); the
            6D heads' mean parameters are frozen buffers (SPIN).
        backbone: the backbone's registry name (``resnet``).
        backbone_options: the backbone's constructor options in place of ``depth``/``width`` (ViTs).
        head_options: extra constructor options of the head (HMR 2.0's decoder sizes).
        column_margin: columns cut from either side of the input before the encoder (HMR 2.0: 32 of
            a 256 x 256 crop, ``x[:, :, :, 32:-32]``, so its ViT sees 256 x 192).
        camera: the camera's registry name (``HMR/cameras.py``) and ``camera_options`` its options.
    Training may run the encoder and regressor in float16 (:meth:`use_mixed_precision`); every
    output below is float32 either way.
    Input:
        images (B, 3, H, W) normalised RGB; noise (I, 2, B, 1024) uniform for dropout, or None (a
        backbone with stochastic depth takes its own from the last row: (I + 1, 2, B, 1024));
        extra: the architecture's extra graph inputs in its spec's order (CLIFF: bbox_info (B, 3),
        ``src.data.frame.bbox_info``), passed to the head and the camera.
    Output (tuple, named in ``HMR.outputs.MODEL_OUTPUTS``):
        cam (B, 3) as (s, tx, ty); pose (B, 72) axis-angle; betas (B, 10);
        rotmats (B, 24, 3, 3); vertices (B, 6890, 3) metres; joints3d (B, K, 3) the model's
        keypoint set in metres (cocoplus 19 when the body model has that regressor, else
        LSP 14 from SMPL joints; the first 14 are LSP 14 either way); keypoints2d (B, K, 2)
        in normalised crop coordinates [-1, 1], through the architecture's camera.
    """

    def __init__(self, smpl, backbone_depth=50, backbone_width=64, pose_head="axis_angle", mean_params=None,
                 num_iterations=3, train_mean_params=True, backbone="resnet", backbone_options=None,
                 head_options=None, column_margin=0, camera="weak_perspective", camera_options=None):
        super().__init__()
        options = dict(depth=backbone_depth, width=backbone_width) if backbone_options is None else backbone_options
        self.encoder = build_backbone(backbone, **options)
        self.regressor = build_head(pose_head, self.encoder.feature_dim, mean_params, num_iterations,
                                    train_mean_params=train_mean_params, **(head_options or {}))
        self.pose_decoder = self.regressor.pose_decoder()     # beside the head: float32 under mixed precision
        self.camera = build_camera(camera, **(camera_options or {}))
        self.smpl = smpl
        self.encoder_takes_noise = getattr(self.encoder, "takes_noise", False)
        self.column_margin = column_margin
        self.amp_level = "O0"

    def use_mixed_precision(self, level):
        """Run the encoder and the regressor at AMP ``level`` (``HMR.precision``); their outputs are
        cast back to float32, so SMPL, the projection and everything downstream stay float32."""
        return set_model_precision(self, level)

    def _float32(self, *tensors):
        return call(as_float32, (self.amp_level, *tensors))

    def construct(self, images, noise=None, *extra):
        return call(self.forward_all_iterations, (images, noise, *extra))[:len(MODEL_OUTPUTS)]

    def rotation_matrices(self, pose_params):
        """The head's pose parameters (N, P) -> rotation matrices (N, 24, 3, 3)."""
        return self.pose_decoder.rotation_matrices(pose_params)

    def encode(self, images, noise=None):
        """The encoder's features of the images (after HMR 2.0's column cut); ``noise`` as in ``construct``."""
        if self.column_margin:
            images = images[:, :, :, self.column_margin:images.shape[3] - self.column_margin]
        if self.encoder_takes_noise and noise is not None:
            features = self.encoder(images, noise[-1, :, :, :self.encoder.depth])
        else:
            features = self.encoder(images)
        return self._float32(features)[0]

    def forward_all_iterations(self, images, noise=None, *extra):
        """The seven outputs above plus the regressor's every iteration, for the adversarial prior:
        rotmats (I * B, 24, 3, 3) and betas (I * B, 10), iteration-major (``HMR.outputs.ALL_ITERATION_OUTPUTS``)."""
        return call(self.decode, (self.encode(images, noise), noise, None, *extra))

    def decode(self, features, noise=None, fast=None, *extra):
        """``forward_all_iterations`` from the encoder's features (B, F); ``fast``: tensors in place of
        the head's fast parameters (``HMR.heads.iterative.fast_parameters`` order), or None."""
        cam, pose_params, betas, stage_poses, stage_betas = call(self.regressor, (features, noise, fast, *extra))
        cam, pose_params, betas, stage_poses, stage_betas = self._float32(cam, pose_params, betas, stage_poses,
                                                                          stage_betas)
        pose, rotmats = self.pose_decoder.to_rotations(pose_params)
        vertices, smpl_joints = self.smpl(betas, rotmats)
        joints3d = self.smpl.keypoints(vertices, smpl_joints)
        keypoints2d = call(self.camera, (joints3d, cam, *extra))
        return (cam, pose, betas, rotmats, vertices, joints3d, keypoints2d,
                self.pose_decoder.rotation_matrices(stage_poses), stage_betas)
