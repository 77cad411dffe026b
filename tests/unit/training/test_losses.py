"""Loss terms against hand-computed values, with their masks."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import mindspore as ms
from src.training.losses import (AdversarialDiscriminatorLoss, AdversarialEncoderLoss, Joint3DLoss, Keypoint2DLoss,
                        SMPLParamLoss)


def T(x):
    return ms.Tensor(np.asarray(x, np.float32))


def test_keypoint_l1_over_visible_coordinates():
    pred = np.zeros((2, 3, 2))
    gt = np.zeros((2, 3, 3))
    gt[0, 0] = [1.0, 2.0, 1.0]      # visible: |1| + |2|
    gt[0, 1] = [5.0, 5.0, 0.0]      # invisible: ignored
    gt[1, 2] = [0.5, 0.0, 1.0]      # visible, but sample 1 has an unreadable image
    loss = Keypoint2DLoss()(T(pred), T(gt), T([1.0, 0.0])).asnumpy()
    assert loss == pytest.approx(3.0 / 2)             # two visible coordinates
    loss = Keypoint2DLoss()(T(pred), T(gt), T([1.0, 1.0])).asnumpy()
    assert loss == pytest.approx(3.5 / 4)


def test_keypoint_loss_is_zero_without_visible_points():
    assert Keypoint2DLoss()(T(np.ones((1, 2, 2))), T(np.zeros((1, 2, 3))), T([1.0])).asnumpy() == 0.0


def test_joint3d_is_pelvis_aligned_half_mse():
    gt = np.zeros((2, 14, 4))
    gt[:, :, 3] = 1.0
    pred = np.zeros((2, 19, 3))
    pred[0, :14] = 0.3                  # a pure translation: zero after pelvis alignment
    pred[1, 0] = [0.1, 0.0, 0.0]        # one joint off by 0.1 m in x
    loss = Joint3DLoss()(T(pred), T(gt), T([1.0, 1.0]), T([1.0, 1.0])).asnumpy()
    assert loss == pytest.approx(0.5 * 0.01 / (2 * 14 * 3), rel=1e-5)
    masked = Joint3DLoss()(T(pred), T(gt), T([1.0, 0.0]), T([1.0, 1.0])).asnumpy()
    assert masked == pytest.approx(0.0, abs=1e-12)


def test_smpl_params_on_rotation_matrices():
    pose_gt = np.zeros((2, 72))
    pose_gt[:, 3:6] = [0.0, 0.0, np.pi / 2]
    rot_pred = np.tile(np.eye(3), (2, 24, 1, 1))        # predicted identity everywhere
    betas_pred, betas_gt = np.zeros((2, 10)), np.zeros((2, 10))
    betas_gt[0, 0] = 2.0
    loss = SMPLParamLoss()(T(rot_pred), T(betas_pred), T(pose_gt), T(betas_gt), T([1.0, 0.0]), T([1.0, 1.0])).asnumpy()
    diff = Rotation.from_rotvec([0, 0, np.pi / 2]).as_matrix() - np.eye(3)
    expected = 0.5 * ((diff ** 2).sum() + 4.0) / 226
    assert loss == pytest.approx(expected, rel=1e-5)


def test_lsgan_terms():
    fake = np.zeros((2, 25))
    real = np.ones((2, 25))
    assert AdversarialEncoderLoss()(T(fake)).asnumpy() == pytest.approx(25.0)
    d_real, d_fake = AdversarialDiscriminatorLoss()(T(real), T(fake))
    assert d_real.asnumpy() == pytest.approx(0.0) and d_fake.asnumpy() == pytest.approx(0.0)
    fake[0, 0] = 2.0
    d_real, d_fake = AdversarialDiscriminatorLoss()(T(real * 0), T(fake))
    assert d_real.asnumpy() == pytest.approx(25.0) and d_fake.asnumpy() == pytest.approx(2.0)
