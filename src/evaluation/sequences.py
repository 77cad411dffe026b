"""The sequence protocol: per-frame, filtered and temporally refined estimates of a sequence dataset
(``src/data/sequences.py``), with the acceleration error.

Acceleration error (VIBE / TCMR ``compute_error_accel``, HMR_FACTS): per joint
``a_t = X[t-1] - 2 X[t] + X[t+1]``; per frame the mean over joints of ``|a_pred - a_gt|``,
x 1000 = mm/frame^2 (no frame-rate factor), on pelvis-aligned joints, within each sequence.
"""
import numpy as np

from model_utils.errors import UserInputError

METRES_TO_MM = 1000.0


def acceleration(joints):
    """Second differences over time: (T, J, 3) -> (T - 2, J, 3)."""
    return joints[:-2] - 2.0 * joints[1:-1] + joints[2:]


def acceleration_error(pred, gt):
    """Per-frame acceleration error, mm/frame^2, of one sequence of pelvis-aligned joints
    (T, J, 3) metres: (T - 2,)."""
    return np.linalg.norm(acceleration(pred) - acceleration(gt), axis=-1).mean(-1) * METRES_TO_MM


def sequence_acceleration_error(pred, gt, groups):
    """Mean acceleration error (mm/frame^2) over every frame of every sequence in ``groups``
    (row indices); ``pred``, ``gt``: (N, J, 3) pelvis-aligned joints of all rows."""
    errors = [acceleration_error(pred[rows], gt[rows]) for rows in groups if len(rows) >= 3]
    if not errors:
        raise UserInputError("the acceleration error needs sequences of at least 3 frames")
    return float(np.concatenate(errors).mean())


def _meshes(smpl, pose, betas):
    """Vertices (N, V, 3) and the models' keypoint set (N, K, 3) (``SMPL.keypoints``) of SMPL parameters (N, 72),
    (N, 10)."""
    import mindspore as ms
    vertices, joints = smpl.run_numpy(betas, pose)
    return vertices, smpl.keypoints(ms.Tensor(vertices), ms.Tensor(joints)).asnumpy()


def _aligned_joints(joint_set, vertices, joints):
    """The joint set's joints minus its root (pelvis, or mid-hip for lsp14), metres."""
    pred, pelvis, mid_hip = joint_set.from_mesh(vertices.astype(np.float64), joints.astype(np.float64))
    return pred - (mid_hip if joint_set.name == "lsp14" else pelvis)


def evaluate_sequences(config, smpl, protocol, test_file, model, gt_meshes=None):
    """The sequence protocol: the per-frame model's estimates, the One-Euro filter's and (when
    ``temporal_model``/``temporal_checkpoint`` is given) the temporal refiner's, each with MPJPE,
    PA-MPJPE, PVE and the acceleration error. Per-frame numbers under the plain keys, the
    others under ``filtered`` and ``refined``."""
    from src.data.schema import load_dataset_npz
    from src.data.sequences import frame_sizes, keypoints_2d, sequences
    from src.evaluation.evaluate import GroundTruthMeshes, run_evaluation
    from src.evaluation.protocols import JointSet
    from src.inference.predictors import frame_predictions
    from src.inference.temporal import FilterTrackSmoother, build_filter, build_track_smoother
    data = load_dataset_npz(test_file)
    groups = sequences(data, test_file)
    predicted = frame_predictions(config, model, test_file)
    pose2d = keypoints_2d(data, config.temporal_keypoint_noise, config.seed)
    smoothers = {"filtered": build_filter(config)}
    learned = build_track_smoother(config, smpl)
    sizes = frame_sizes(data, test_file) if getattr(learned, "keypoints", None) == "frame" else None
    if not isinstance(learned, FilterTrackSmoother):
        smoothers["refined"] = learned
    estimates = {None: (predicted["pose"], predicted["betas"])}
    for name, smoother in smoothers.items():
        pose, betas = np.zeros_like(predicted["pose"]), np.zeros_like(predicted["betas"])
        for rows in groups:
            frame_size = None if sizes is None else (float(sizes[rows[0], 1]), float(sizes[rows[0], 0]))
            pose[rows], betas[rows] = smoother.smooth(pose2d[rows], predicted["pose"][rows], predicted["betas"][rows],
                                                      frame_size=frame_size)
        estimates[name] = (pose, betas)
    meshes = {name: _meshes(smpl, *value) for name, value in estimates.items()}
    rows = np.concatenate(groups)
    predictions = [(rows, meshes[None][0][rows], meshes[None][1][rows], np.ones(len(rows)),
                    {name: (v[rows], j[rows]) for name, (v, j) in meshes.items() if name is not None})]
    summary = run_evaluation(protocol, predictions, data, smpl, config.eval_joint_set, gt_meshes, config.eval_pve_root)
    joint_set = JointSet(summary["joint_set"], {n: smpl.regressor(n).asnumpy().astype(np.float64)
                                                for n in smpl.regressor_names})
    gt_vertices, gt_smpl_joints = (gt_meshes or GroundTruthMeshes(smpl))(data["pose"], data["shape"])
    gt_joints = (joint_set.lsp_from_mesh(gt_vertices.astype(np.float64), gt_smpl_joints)
                 if joint_set.name == "lsp14" else gt_smpl_joints)          # (the H36M sets regress the mesh)
    gt = _aligned_joints(joint_set, gt_vertices, gt_joints)
    for name, (vertices, joints) in meshes.items():
        accel = sequence_acceleration_error(_aligned_joints(joint_set, vertices, joints), gt, groups)
        (summary if name is None else summary[name])["accel"] = accel
    summary.update(sequences=len(groups), refiner=getattr(learned, "kind", "filter"),
                   keypoints_2d=f"labels + noise {config.temporal_keypoint_noise} x box side")
    return summary
