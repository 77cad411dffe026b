"""SMPL fitting (``--fit_steps``, test-time refinement): a few Adam steps on pose, shape and camera to
fit 2D keypoints.

Starts from the network's prediction; the objective is ``HMR/fit_loss.py``; the steps and
their Adam updates run as one compiled loop (``FitSteps``, GRAPH_MODE when configured), one
call per batch, which also projects the keypoints before and after: the reprojection error
before and after, in crop pixels.
"""
import numpy as np

ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8


def keypoint_pixel_error(projected, keypoints, crop_height):
    """Mean distance of the visible keypoints in crop pixels, per sample (B,).

    projected (B, K, 2) and keypoints (B, K, 3) in normalised crop units (both axes divided by
    half the crop height)."""
    distance = np.linalg.norm(projected - keypoints[:, :, :2], axis=-1) * crop_height / 2.0
    visible = keypoints[:, :, 2] > 0
    return (distance * visible).sum(1) / np.maximum(visible.sum(1), 1)


class SMPLFitter:
    """``fit(pose, betas, cam, keypoints)`` -> fitted (pose, betas, cam) and errors.

    Args:
        smpl: the SMPL layer; its keypoint set (``SMPL.keypoints``) is what is fitted.
        steps: Adam steps; lr: step size; crop_size: pixels per normalised crop width / 2.
        weights: dict with ``sigma``, ``reprojection``, ``pose``, ``limits``, ``shape``.
    """

    def __init__(self, smpl, steps, lr, crop_size, weights):
        from HMR.fit_loss import FitLoss, FitSteps
        self.loss = FitLoss(smpl, weights["sigma"], weights["reprojection"], weights["pose"],
                            weights["limits"], weights["shape"])
        self.fit_steps = FitSteps(self.loss, steps, lr, ADAM_BETAS, ADAM_EPS)
        self.steps, self.lr, self.crop_size = steps, lr, crop_size

    def posed(self, pose, betas, cam):
        """Meshes of fitted parameters: (vertices (B, V, 3), keypoint joints (B, K, 3), keypoints2d (B, K, 2))."""
        import mindspore as ms

        from HMR.geometry import weak_perspective_projection
        smpl = self.loss.smpl
        vertices, smpl_joints = smpl(ms.Tensor(np.asarray(betas, np.float32)), ms.Tensor(np.asarray(pose, np.float32)))
        joints = smpl.keypoints(vertices, smpl_joints)
        keypoints2d = weak_perspective_projection(joints, ms.Tensor(np.asarray(cam, np.float32)))
        return vertices.asnumpy(), joints.asnumpy(), keypoints2d.asnumpy()

    def fit(self, pose, betas, cam, keypoints):
        """pose (B, 72) axis-angle, betas (B, 10), cam (B, 3), keypoints (B, K, 3) normalised + visibility.

        Returns dict: pose, betas, cam (fitted, numpy) and reprojection_before/after (B,) pixels.
        """
        import mindspore as ms
        params = [ms.Tensor(np.asarray(p, np.float32)) for p in (pose, betas, cam)]
        pose, betas, cam, before, after = (t.asnumpy() for t in self.fit_steps(*params, ms.Tensor(
            np.asarray(keypoints, np.float32))))
        return {"pose": pose, "betas": betas, "cam": cam,
                "reprojection_before": keypoint_pixel_error(before, keypoints, self.crop_size),
                "reprojection_after": keypoint_pixel_error(after, keypoints, self.crop_size)}


def build_fitter(config, smpl):
    """An SMPLFitter from the ``fit_*`` config keys (None when ``fit_steps`` is 0)."""
    if config.fit_steps <= 0:
        return None
    weights = {"sigma": config.fit_robust_sigma, "reprojection": config.fit_reprojection_weight,
               "pose": config.fit_pose_weight, "limits": config.fit_limit_weight,
               "shape": config.fit_shape_weight}
    return SMPLFitter(smpl, config.fit_steps, config.fit_lr, config.img_size, weights)
