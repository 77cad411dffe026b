"""HybrIK (Li et al., CVPR 2021): pixel-aligned 3D joint heatmaps, twists and shape -> SMPL by hybrid
inverse kinematics, with its camera (``hybrik/models/HRNetWithCam.py`` ``HRNetSMPLCam``, and
``simple3dposeSMPLWithCam.py`` ``Simple3DPoseBaseSMPLCam`` for the ResNet backbone).

The backbone (``HMR/backbones/hybrik_*.py``) gives heatmap logits for 29 joints x 64 depth bins and a
pooled feature; the integral regression (``HMR/heads/integral.py``) turns the volumes into (u, v, d); the
heads (``HMR/heads/hybrik.py``) give betas, twists, the camera scale and the joints' sigma; the camera
(``HMR/cameras/hybrik_camera.py``) back-projects (u, v, d) with the box's offset from the image centre;
the body layer (``HMR/smpl/hybrik_layer.py``) solves the rotations by IK and skins the mesh.

In evaluation the HRNet model re-fits the camera scale to the joints (``update_scale``: the naive IK's
joints, weights ``clamp(1 - 10 sigma, 0)``), as HybrIK; the ResNet model does not (neither does HybrIK's).
"""
import mindspore as ms
from mindspore import nn, ops

from HMR.backbones import build_backbone
from HMR.cameras import build_camera
from HMR.cameras.hybrik_camera import (back_project, box_offset, camera_depth, camera_root, over, refit_scale,
                                       weak_perspective)
from HMR.constants import (H36M_PELVIS, HYBRIK29_FLIP_PERM, HYBRIK29_NAMES, HYBRIK_DEPTH_DIM, HYBRIK_DEPTH_FACTOR,
                           HYBRIK_FOCAL, HYBRIK_INPUT_SIZE, HYBRIK_SIGMA_GAIN, NUM_SMPL_JOINTS, SMPL_FLIP_PERM)
from HMR.geometry import rotmat_to_axis_angle
from HMR.graph_call import call
from HMR.heads import build_head
from HMR.heads.integral import flip_volumes, integrate_volumes, softmax_volumes
from HMR.outputs import HYBRIK_SEED_OUTPUTS, PRED_SHAPE, PRED_THETA_MATS, PRED_VERTICES, PRED_XYZ_24_STRUCT, TRANSL
from HMR.precision import as_float32, set_model_precision
from HMR.smpl.hybrik_layer import HybrIKSMPL
from HMR.smpl.lbs import take

NUM_JOINTS = len(HYBRIK29_NAMES)
FLIP_PAIRS_29 = tuple((i, j) for i, j in enumerate(HYBRIK29_FLIP_PERM) if i < j)
# twist k belongs to joint k + 1: the flipped image's twist of joint j is the left/right partner's
TWIST_FLIP_PERM = tuple(SMPL_FLIP_PERM[k + 1] - 1 for k in range(NUM_SMPL_JOINTS - 1))


class HybrIKModel(nn.Cell):
    """HybrIK's network, camera and body layer.

    Args:
        smpl: :class:`HMR.smpl.SMPL` with the ``h36m`` regressor.
        backbone: registry name (``hybrik_hrnet`` or ``hybrik_resnet``) and ``backbone_options``.
        mean_params: ``{"shape": (10,), ...}``: the mean betas the shape head adds to (HybrIK's
            ``h36m_mean_beta.npy``; a converted checkpoint brings its own).
        head_hidden: 0 (HRNet) or ResNet's ``fc1``/``fc2`` width (1024).
        camera_numbers: 1 (HRNet: the scale) or 3 (ResNet: scale, tx, ty).
        refit_scale: re-fit the camera scale in evaluation (HRNet's ``update_scale``).
        flip_test: average with the mirrored image's prediction, as HybrIK's ``flip_test=True``.
        camera: the model camera's registry name (``hybrik``) for ``keypoints2d``.
    Inputs of :meth:`predict`: images (B, 3, S, S) normalised as HybrIK (``image_normalization: hybrik``);
        bbox (B, 4) the crop's square box, xyxy, and image_center (B, 2), both in the full image's pixels;
        noise (1, 2, B, 1024) uniform for ResNet's dropout, or None.
    Outputs of :meth:`predict` (``HMR.outputs.HYBRIK_OUTPUTS``), in HybrIK's units: pred_shape (B, 10); pred_theta_mats
        (B, 216) local rotations; pred_uvd_jts (B, 87) in [-0.5, 0.5]; pred_xyz_jts_29 (B, 87),
        pred_xyz_jts_24 (B, 72) (the network's joints), pred_xyz_jts_24_struct (B, 72) (after IK) and
        pred_xyz_jts_17 (B, 51) (H36M, from the mesh), root-relative in units of 2.2 m; pred_vertices
        (B, 6890, 3) m relative to the H36M pelvis; cam_scale (B, 1); cam_root and transl (B, 3) m;
        pred_camera (B, 1) the predicted scale; pred_phi (B, 23, 2); pred_sigma (B, 29, 1); maxvals
        (B, 29, 1) the volumes' peak probability.
    ``construct(images, noise, bbox, image_center)`` returns ``HMR.outputs.MODEL_OUTPUTS`` as the other
    families do: cam (B, 3) the weak-perspective equivalent of ``transl``; pose (B, 72) axis-angle; betas;
    rotations (B, 24, 3, 3); vertices and the keypoint set (B, K, 3) in the vertices' frame; keypoints2d
    (B, K, 2) projected by HybrIK's camera at ``transl`` into the crop, in [-1, 1].
    """

    def __init__(self, smpl, backbone="hybrik_hrnet", backbone_options=None, mean_params=None, head_hidden=0,
                 camera_numbers=1, refit_scale=True, flip_test=False, camera="hybrik"):
        super().__init__()
        options = dict(backbone_options or {})
        options.update(num_joints=NUM_JOINTS, depth_dim=HYBRIK_DEPTH_DIM)
        self.encoder = build_backbone(backbone, **options)
        self.regressor = build_head("hybrik", self.encoder.feature_dim, mean_params, 1, hidden=head_hidden,
                                    camera_numbers=camera_numbers, num_joints=NUM_JOINTS)
        self.body = HybrIKSMPL(smpl)
        self.smpl = smpl
        self.outputs = HybrIKModelOutputs(smpl, camera)
        self.refit = refit_scale
        self.flip_test = flip_test
        self.focal, self.input_size, self.depth_factor = HYBRIK_FOCAL, HYBRIK_INPUT_SIZE, HYBRIK_DEPTH_FACTOR
        self.encoder_takes_noise = False
        self.amp_level = "O0"

    def use_mixed_precision(self, level):
        """The backbone and heads at AMP ``level`` (``HMR.precision``); their outputs are cast to float32."""
        return set_model_precision(self, level)

    def _float32(self, *tensors):
        return call(as_float32, (self.amp_level, *tensors))

    def _volumes(self, logits):
        """(B, K * D, H, W) logits -> (B, K, D, H, W)."""
        shape = logits.shape
        return logits.reshape(-1, NUM_JOINTS, HYBRIK_DEPTH_DIM, shape[2], shape[3])

    def _flipped(self, images, noise, volumes, betas, twist, camera, sigma):
        """HybrIK's flip test: the mirrored image's heatmap logits mirrored back (one-voxel shift), then both
        volumes' softmax averaged; betas averaged; sigmas swapped and averaged; twists with their sine negated,
        swapped and averaged; the scale averaged harmonically (HRNet) or (scale, -tx, ty) arithmetically
        (ResNet)."""
        logits, features = self._float32(*self.encoder(ops.flip(images, (3,))))
        flip_betas, flip_twist, flip_camera, flip_sigma = self._float32(*self.regressor(features, noise))
        flipped = softmax_volumes(flip_volumes(self._volumes(logits), FLIP_PAIRS_29))     # logits shifted, as HybrIK
        volumes = (volumes + flipped) / 2.0
        betas = (betas + flip_betas) / 2.0
        flip_twist = take(flip_twist * ms.Tensor([1.0, -1.0], ms.float32), list(TWIST_FLIP_PERM))
        twist = (twist + flip_twist) / 2.0
        if camera.shape[1] == 1:
            camera = over(2.0, over(1.0, flip_camera) + over(1.0, camera))
        else:
            camera = (camera + flip_camera * ms.Tensor([1.0, -1.0, 1.0], ms.float32)) / 2.0
        sigma = (sigma + take(flip_sigma, list(HYBRIK29_FLIP_PERM))) / 2.0
        return volumes, betas, twist, camera, sigma

    def _back_project(self, uvd, scale, offset):
        """(u, v, d) at camera scale (B, 1, 1) -> joints (B, 29, 3) in depth-factor units, not yet
        root-relative, and the root's depth (B, 1, 1) m."""
        depth = camera_depth(scale, self.focal, self.input_size)
        return back_project(uvd, depth, offset, self.focal, self.input_size, self.depth_factor), depth

    def _refit_scale(self, uvd, scale, offset, betas, twist, sigma):
        """``update_scale``: the naive IK's 24 joints at the back-projected root, the scale re-solved by
        weighted least squares on their (u, v); where no joint has weight, the predicted scale is kept (HybrIK
        catches the singular inverse)."""
        joints, _ = self._back_project(uvd, scale, offset)
        root = joints[:, :1] * self.depth_factor
        relative = (joints - joints[:, :1]) * self.depth_factor
        _, joints24, _, _ = self.body.posed(relative, twist, betas, naive=True)
        placed = joints24 - joints24[:, :1] + root
        weight = ops.relu(1.0 - HYBRIK_SIGMA_GAIN * sigma[:, :NUM_SMPL_JOINTS])
        fitted = refit_scale(uvd[:, :NUM_SMPL_JOINTS, :2] + offset, placed, weight, self.focal, self.input_size)
        usable = ops.sum(weight, (1, 2), keepdim=True) > 0
        return ops.where(usable, fitted, scale)

    def _forward(self, images, bbox, image_center, noise):
        """:meth:`predict`'s outputs and the SMPL pelvis in the vertices' frame (B, 1, 3)."""
        logits, features = self._float32(*self.encoder(images))
        betas, twist, camera, sigma = self._float32(*self.regressor(features, noise))
        volumes = softmax_volumes(self._volumes(logits))
        if self.flip_test:
            volumes, betas, twist, camera, sigma = self._flipped(images, noise, volumes, betas, twist, camera, sigma)
        uvd, maxvals = integrate_volumes(volumes)
        return self.solve(uvd, maxvals, betas, twist, camera, sigma, bbox, image_center)

    def solve(self, uvd, maxvals, betas, twist, camera, sigma, bbox, image_center):
        """What follows the network: the camera (its scale re-fitted in evaluation), the back-projection and the
        body layer. uvd (B, 29, 3), maxvals and sigma (B, 29, 1), betas (B, 10), twist (B, 23, 2), camera (B, C),
        bbox (B, 4), image_center (B, 2) -> :meth:`predict`'s outputs and the SMPL pelvis in the vertices'
        frame (B, 1, 3)."""
        offset = box_offset(bbox, image_center)
        scale = camera[:, :1].expand_dims(1)
        if self.refit and not self.training:
            scale = self._refit_scale(uvd, scale, offset, betas, twist, sigma)
        joints, depth = self._back_project(uvd, scale, offset)
        cam_root = camera_root(joints, depth, self.depth_factor)
        joints = joints - joints[:, :1]
        # SMPL_layer.hybrik: IK (naive in training), then the mesh and the H36M joints on the H36M pelvis and
        # the SMPL joints on the SMPL pelvis, each pelvis detached
        vertices, joints24, rotmats, h36m = self.body.posed(joints * self.depth_factor, twist, betas, self.training)
        h36m_pelvis = ops.stop_gradient(h36m[:, H36M_PELVIS:H36M_PELVIS + 1])
        smpl_pelvis = ops.stop_gradient(joints24[:, :1])
        joints24 = joints24 - smpl_pelvis
        transl = cam_root - joints24[:, 0]
        # (-1, n) reshapes: no batch-sized constant in the graph (dynamic-batch export)
        outputs = (betas, rotmats.reshape(-1, NUM_SMPL_JOINTS * 9), uvd.reshape(-1, NUM_JOINTS * 3),
                   joints.reshape(-1, NUM_JOINTS * 3), joints[:, :NUM_SMPL_JOINTS].reshape(-1, NUM_SMPL_JOINTS * 3),
                   (joints24 / self.depth_factor).reshape(-1, NUM_SMPL_JOINTS * 3),
                   ((h36m - h36m_pelvis) / self.depth_factor).reshape(-1, h36m.shape[1] * 3), vertices - h36m_pelvis,
                   scale[:, 0], cam_root, transl, camera[:, :1], twist, sigma, maxvals)
        return outputs, smpl_pelvis - h36m_pelvis

    def predict(self, images, bbox, image_center, noise=None):
        return self._forward(images, bbox, image_center, noise)[0]

    def construct(self, images, noise=None, *extra):
        bbox, image_center = extra[0], extra[1]
        outputs, smpl_pelvis = self._forward(images, bbox, image_center, noise)
        return self.outputs(outputs, smpl_pelvis, bbox, image_center)


class HybrIKModelOutputs(nn.Cell):
    """HybrIK's outputs as every job reads a model's (``HMR.outputs.MODEL_OUTPUTS``).

    Inputs: HybrIK's outputs (``HYBRIK_SEED_OUTPUTS`` first), smpl_pelvis (B, 1, 3) the SMPL pelvis in the
    vertices' frame (m), bbox (B, 4) and image_center (B, 2) as the model took them.
    Outputs: cam (B, 3) the weak-perspective equivalent of ``transl``; pose (B, 72) axis-angle; betas;
    rotations (B, 24, 3, 3); vertices and the keypoint set (B, K, 3) in the vertices' frame (cocoplus regressed
    from the vertices when the body model has that regressor, else LSP 14 of the SMPL joints); keypoints2d
    (B, K, 2) projected by HybrIK's camera at ``transl`` into the crop, in [-1, 1].
    """

    def __init__(self, smpl, camera="hybrik"):
        super().__init__()
        self.smpl = smpl
        self.camera = build_camera(camera)
        self.focal, self.input_size, self.depth_factor = HYBRIK_FOCAL, HYBRIK_INPUT_SIZE, HYBRIK_DEPTH_FACTOR

    def construct(self, outputs, smpl_pelvis, bbox, image_center):
        betas, vertices, transl = outputs[PRED_SHAPE], outputs[PRED_VERTICES], outputs[TRANSL]
        rotmats = outputs[PRED_THETA_MATS].reshape(-1, NUM_SMPL_JOINTS, 3, 3)
        joints24 = outputs[PRED_XYZ_24_STRUCT].reshape(-1, NUM_SMPL_JOINTS, 3) * self.depth_factor + smpl_pelvis
        joints3d = self.smpl.keypoints(vertices, joints24)
        cam = weak_perspective(transl, box_offset(bbox, image_center), self.focal, self.input_size)
        keypoints2d = self.camera(joints3d, cam, bbox, image_center)
        pose = rotmat_to_axis_angle(rotmats.reshape(-1, 3, 3)).reshape(-1, NUM_SMPL_JOINTS * 3)
        return cam, pose, betas, rotmats, vertices, joints3d, keypoints2d


class HybrIKGraphDecoder(nn.Cell):
    """The exported HybrIK graph's twelve outputs (``HYBRIK_SEED_OUTPUTS``) and its inputs -> ``MODEL_OUTPUTS``, as
    the model itself returns them (:class:`HybrIKModelOutputs`), for the jobs that run exported graphs. The graph
    does not give the SMPL pelvis in the vertices' frame: the body is skinned once more with the graph's rotations
    and shape, and the pelvis is read off against that mesh's H36M pelvis.

    Inputs: the graph's twelve outputs in ``HYBRIK_SEED_OUTPUTS`` order, each (B, ...), then bbox (B, 4) and
    image_center (B, 2) (separate arguments: a tuple of tensors would be a constant of the compiled graph)."""

    def __init__(self, smpl):
        super().__init__()
        self.smpl = smpl
        self.h36m = smpl.regressor("h36m")
        self.outputs = HybrIKModelOutputs(smpl)

    def construct(self, *inputs):
        outputs, bbox, image_center = inputs[:len(HYBRIK_SEED_OUTPUTS)], inputs[-2], inputs[-1]
        betas = outputs[PRED_SHAPE]
        rotmats = outputs[PRED_THETA_MATS].reshape(-1, NUM_SMPL_JOINTS, 3, 3)
        vertices, joints24 = self.smpl(betas, rotmats)
        h36m_pelvis = ops.matmul(self.h36m[H36M_PELVIS:H36M_PELVIS + 1], vertices)
        outputs = outputs[:PRED_VERTICES] + (outputs[PRED_VERTICES].reshape(-1, vertices.shape[1], 3),) + \
            outputs[PRED_VERTICES + 1:]
        return self.outputs(outputs, joints24[:, :1] - h36m_pelvis, bbox, image_center)
