"""The model's outputs and the 85-number theta, by name: the one place their layout is defined.

Graph-mode code keeps tuples and indexes them with the constants below; code outside graphs
turns them into dicts with :func:`named` / :func:`split_theta`.
"""
import numpy as np

from HMR.constants import NUM_BETAS, NUM_POSE_PARAMS

# HMR.model.HMR returns MODEL_OUTPUTS; forward_all_iterations adds every iteration's rotations and betas
MODEL_OUTPUTS = ("cam", "pose", "betas", "rotmats", "vertices", "joints3d", "keypoints2d")
ALL_ITERATION_OUTPUTS = MODEL_OUTPUTS + ("stage_rotmats", "stage_betas")
CAM, POSE, BETAS, ROTMATS, VERTICES, JOINTS3D, KEYPOINTS2D, STAGE_ROTMATS, STAGE_BETAS = range(len(ALL_ITERATION_OUTPUTS))

# the exported graphs' outputs (HMR/export_net.py)
GRAPH_OUTPUTS = ("theta", "vertices", "joints3d", "keypoints2d")
# HybrIK's graph: the seed system's twelve outputs (HRNetWithCam.forward's names); HMR.hybrik.HybrIKModel.predict
# returns them and then what training reads (HYBRIK_OUTPUTS), indexed by the constants below
HYBRIK_SEED_OUTPUTS = ("pred_shape", "pred_theta_mats", "pred_uvd_jts", "pred_xyz_jts_29", "pred_xyz_jts_24",
                       "pred_xyz_jts_24_struct", "pred_xyz_jts_17", "pred_vertices", "cam_scale", "cam_root", "transl",
                       "pred_camera")
HYBRIK_OUTPUTS = HYBRIK_SEED_OUTPUTS + ("pred_phi", "pred_sigma", "maxvals")
(PRED_SHAPE, PRED_THETA_MATS, PRED_UVD, PRED_XYZ_29, PRED_XYZ_24, PRED_XYZ_24_STRUCT, PRED_XYZ_17, PRED_VERTICES,
 CAM_SCALE, CAM_ROOT, TRANSL, PRED_CAMERA, PRED_PHI, PRED_SIGMA, MAXVALS) = range(len(HYBRIK_OUTPUTS))

# theta = [cam 3 | pose 72 axis-angle | betas 10]
NUM_CAM = 3
THETA_CAM = slice(0, NUM_CAM)
THETA_POSE = slice(NUM_CAM, NUM_CAM + NUM_POSE_PARAMS)
THETA_BETAS = slice(NUM_CAM + NUM_POSE_PARAMS, NUM_CAM + NUM_POSE_PARAMS + NUM_BETAS)
THETA_SIZE = NUM_CAM + NUM_POSE_PARAMS + NUM_BETAS


def named(outputs, names=MODEL_OUTPUTS):
    """``{name: output}`` of a model's (or graph's) output tuple."""
    return dict(zip(names, outputs))


def split_theta(theta):
    """theta (..., 85) -> ``{"cam": (..., 3), "pose": (..., 72), "betas": (..., 10)}`` (numpy or tensors)."""
    return {"cam": theta[..., THETA_CAM], "pose": theta[..., THETA_POSE], "betas": theta[..., THETA_BETAS]}


def pack_theta(cam, pose, betas):
    """numpy (B, 3), (B, 72), (B, 10) -> theta (B, 85)."""
    return np.concatenate([cam, pose, betas], -1)


def graph_outputs_of(model_outputs):
    """The exported graphs' four ``GRAPH_OUTPUTS`` [theta (B, 85), vertices, joints3d, keypoints2d] of a model's
    ``MODEL_OUTPUTS`` (an iterable of numpy arrays)."""
    out = named(model_outputs)
    return [pack_theta(out["cam"], out["pose"], out["betas"]), out["vertices"], out["joints3d"], out["keypoints2d"]]
