"""3DCrowdNet's training: its seven loss terms against the formulas of ``main/model.py`` and ``nets/loss.py``
computed here in numpy (the fitted SMPL's joints by smplx, the joint sets by 3DCrowdNet's names), and the training
loop on the embedded default's tiny data (runs, resumes exactly)."""
import json

import mindspore as ms
import numpy as np
import pytest
from conftest import stopped_copy, tiny_config

CROWD_ARGS = ("--architecture", "crowdnet", "--pose_head", "vposer", "--img_size", "256", "--image_normalization",
              "unit", "--crowdnet_feature_dim", "64", "--batch_size", "2")
CROWD_ORDER = ('Pelvis', 'L_Hip', 'R_Hip', 'Torso', 'L_Knee', 'R_Knee', 'Spine', 'L_Ankle', 'R_Ankle', 'Chest', 'L_Toe',
               'R_Toe', 'Neck', 'L_Thorax', 'R_Thorax', 'Head', 'L_Shoulder', 'R_Shoulder', 'L_Elbow', 'R_Elbow',
               'L_Wrist', 'R_Wrist', 'L_Hand', 'R_Hand', 'Nose', 'L_Eye', 'R_Eye', 'L_Ear', 'R_Ear', 'Head_top')
GRAPH = ('Pelvis', 'L_Hip', 'R_Hip', 'L_Knee', 'R_Knee', 'L_Ankle', 'R_Ankle', 'Neck', 'Head_top', 'L_Shoulder',
         'R_Shoulder', 'L_Elbow', 'R_Elbow', 'L_Wrist', 'R_Wrist')
# HMR's cocoplus 19 (the model's keypoint set on the embedded body) in 3DCrowdNet's names; LSP 14 are its first 14
COCOPLUS = ('R_Ankle', 'R_Knee', 'R_Hip', 'L_Hip', 'L_Knee', 'L_Ankle', 'R_Wrist', 'R_Elbow', 'R_Shoulder',
            'L_Shoulder', 'L_Elbow', 'L_Wrist', 'Neck', 'Head_top', 'Nose', 'L_Eye', 'R_Eye', 'L_Ear', 'R_Ear')
UNSUPERVISED = ('L_Ankle', 'R_Ankle', 'L_Toe', 'R_Toe', 'L_Wrist', 'R_Wrist', 'L_Hand', 'R_Hand')


def _batch(config):
    """The first training batch's columns (the dataset's, then joints, joints_mask, the noise (B, 1, 1, R))."""
    from src.builders import build_model, build_smpl, build_train_source
    smpl = build_smpl(config)
    model = build_model(config, smpl)
    source = build_train_source(config, model, 1)
    return model, [np.stack(c) for c in zip(*[source[p] for p in range(config.batch_size)])]


def test_loss_terms_follow_3dcrowdnet(tiny_data_dir, tmp_path):
    import smplx
    import torch
    from src.data.sources import TRAIN_COLUMNS
    from src.training.crowdnet_step import CrowdNetObjective, keypoint_names
    config = tiny_config(tiny_data_dir, tmp_path, *CROWD_ARGS, "--batch_size", "4")
    model, columns = _batch(config)
    model.set_train(False)
    data = dict(zip(TRAIN_COLUMNS, columns))
    joints, mask, noise = columns[len(TRAIN_COLUMNS):]
    inputs = [ms.Tensor(data[k]) for k in ("image", "keypoints", "joints3d", "pose", "betas", "has_smpl", "has_3d",
                                           "valid")]
    got = [float(v.asnumpy()) for v in CrowdNetObjective(model, keypoint_names(model))(
        *inputs, ms.Tensor(noise[:, 0, 0]), ms.Tensor(joints), ms.Tensor(mask))]
    out = [o.asnumpy() for o in model.predict(ms.Tensor(data["image"]), ms.Tensor(joints), ms.Tensor(mask),
                                              ms.Tensor(noise[:, 0, 0]))]
    joint_img, _, joint_proj, joint_cam, _, pose, betas = out[:7]
    # the fit's 30 joints: smplx's mesh, SMPL's J_regressor, the face vertices, J_regressor_extra's head top
    body = smplx.SMPL(str(tiny_data_dir / "neutral_smpl_with_cocoplus_reg.pkl"))
    with torch.no_grad():
        vertices = body(betas=torch.tensor(data["betas"]), global_orient=torch.tensor(data["pose"][:, :3]),
                        body_pose=torch.tensor(data["pose"][:, 3:])).vertices.numpy()
    face = np.zeros((5, vertices.shape[1]))
    face[np.arange(5), (331, 2802, 6262, 3489, 3990)] = 1
    regressor = np.concatenate([body.J_regressor.numpy(), face, np.load(tiny_data_dir / "J_regressor_extra.npy")[3:4]])
    fit = np.einsum("jv,bvc->bjc", regressor, vertices)
    fit = fit - fit[:, :1]
    smpl_ok = (data["has_smpl"] * data["valid"])[:, None, None]
    # labels: the cocoplus keypoints (crop [-1, 1]) in the 64-grid, by name
    grid = (data["keypoints"][..., :2] + 1) * 32
    seen = data["keypoints"][..., 2] * np.all((grid >= 0) & (grid < 64), -1) * data["valid"][:, None]
    rows = [CROWD_ORDER.index(n) for n in COCOPLUS]
    label, label_w = np.zeros((4, 30, 2)), np.zeros((4, 30, 1))
    label[:, rows], label_w[:, rows, 0] = grid, seen
    g = [CROWD_ORDER.index(n) for n in GRAPH]
    body_img = np.mean(np.concatenate([np.abs(joint_img[..., :2] - label[:, g]) * label_w[:, g],
                                       np.zeros((4, 15, 1))], -1)) / 8
    depth = (fit[:, g, 2:] / 1.0 + 1) / 2 * 64
    depth_w = ((depth >= 0) & (depth < 64)) * smpl_ok
    smpl_img = np.mean(np.concatenate([np.zeros((4, 15, 2)), np.abs(joint_img[..., 2:] - depth) * depth_w], -1)) / 8
    pose_mask = np.ones((24, 3))
    pose_mask[[CROWD_ORDER.index(n) for n in UNSUPERVISED]] = 0
    smpl_pose = np.mean(np.abs(pose - data["pose"]) * pose_mask.reshape(72) * smpl_ok[:, 0])
    smpl_shape = np.mean(np.abs(betas - data["betas"]) * smpl_ok[:, 0])
    proj = np.mean(np.abs(joint_proj - label) * label_w) / 8
    lsp = data["joints3d"][..., :3] - data["joints3d"][:, 2:4, :3].mean(1, keepdims=True)   # LSP hips: 2, 3
    lsp_rows = rows[:14]
    mid_hip = joint_cam[:, [CROWD_ORDER.index('L_Hip'), CROWD_ORDER.index('R_Hip')]].mean(1, keepdims=True)
    cam_w = np.zeros((4, 30, 1))
    cam_w[:, lsp_rows, 0] = data["joints3d"][..., 3] * (data["has_3d"] * data["valid"])[:, None]
    target = np.zeros((4, 30, 3))
    target[:, lsp_rows] = lsp
    body_cam = np.mean(np.abs(joint_cam - mid_hip - target) * cam_w)
    smpl_cam = np.mean(np.abs(joint_cam - fit) * smpl_ok)
    want = [body_img, smpl_img, smpl_pose, smpl_shape, proj, body_cam, smpl_cam]
    assert data["has_smpl"].sum() > 0 and data["has_3d"].sum() > 0 and all(w > 0 for w in want)
    np.testing.assert_allclose(got[1:], want, rtol=2e-4)
    assert got[0] == pytest.approx(sum(want), rel=2e-4)


def _log(folder):
    with open(folder / "train_log.jsonl", encoding="utf-8") as handle:
        return {r["step"]: r for r in map(json.loads, handle)}


def test_training_runs_and_resumes_exactly(tiny_data_dir, tmp_path):
    """3DCrowdNet trains on the embedded default (corrupted 2D pose inputs, every term finite); a copy of the run
    stopped at step 2 and resumed logs the uninterrupted run's losses and ends with its weights (PyNative)."""
    from src.training.loop import train
    common = CROWD_ARGS + ("--epochs", "1", "--steps_per_epoch", "4", "--save_every", "2", "--graph_mode", "false")
    ms.set_seed(0)
    train(tiny_config(tiny_data_dir, tmp_path / "full", *common))
    stopped_copy(tmp_path / "full" / "train", 2, tmp_path / "cut" / "train")
    ms.set_seed(5)
    assert train(tiny_config(tiny_data_dir, tmp_path / "cut", *common, "--resume", "true"))["steps"] == 4
    full, cut = _log(tmp_path / "full" / "train"), _log(tmp_path / "cut" / "train")
    for step in range(4):
        assert all(np.isfinite(v) for k, v in full[step].items() if isinstance(v, float)), step
        assert cut[step]["total"] == pytest.approx(full[step]["total"], rel=1e-6), step
    load = lambda run: {k: v.asnumpy() for k, v in ms.load_checkpoint(
        str(tmp_path / run / "train" / "hmr-step00000004.ckpt")).items() if hasattr(v, "asnumpy")}
    weights = [load(run) for run in ("full", "cut")]
    assert weights[0].keys() == weights[1].keys()
    for name, value in weights[0].items():
        np.testing.assert_array_equal(weights[1][name], value, err_msg=name)
