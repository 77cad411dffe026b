"""The acceleration error, the One-Euro filter and the windowed track refiner, on hand-computed cases."""
import numpy as np
from scipy.spatial.transform import Rotation


def test_acceleration_error_of_a_known_quadratic():
    """Ground truth at rest, one of 4 joints moving x = c t^2: accel 2c every frame, so the error
    is 2c / 4 per frame (VIBE's mean over joints of the norm), x 1000 mm."""
    from src.evaluation.sequences import acceleration_error, sequence_acceleration_error
    c, frames = 0.003, 10
    gt = np.zeros((frames, 4, 3))
    pred = gt.copy()
    pred[:, 2, 0] = c * np.arange(frames) ** 2
    np.testing.assert_allclose(acceleration_error(pred, gt), np.full(frames - 2, 2 * c / 4 * 1000))
    # two sequences: the second error-free; per-frame mean over both (8 + 3 frames)
    both = sequence_acceleration_error(np.concatenate([pred, gt[:5]]), np.concatenate([gt, gt[:5]]),
                                       [np.arange(10), np.arange(10, 15)])
    np.testing.assert_allclose(both, 2 * c / 4 * 1000 * 8 / 11)


def test_one_euro_is_the_published_recursion():
    """Constant input passes unchanged; at beta 0 a step is a first-order low-pass with
    alpha = 1 / (1 + 1 / (2 pi f_c)) per frame (Casiez et al. 2012)."""
    from src.inference.one_euro import one_euro
    flat = np.full((20, 3), 0.7)
    np.testing.assert_allclose(one_euro(flat, 0.05, 0.5), flat)
    step = np.zeros((12, 1))
    step[1:] = 1.0
    alpha = 1.0 / (1.0 + 1.0 / (2 * np.pi * 0.1))
    want = 1.0 - (1.0 - alpha) ** np.arange(12)
    want[0] = 0.0
    np.testing.assert_allclose(one_euro(step, 0.1, 0.0)[:, 0], want, atol=1e-12)


def test_filter_keeps_rotations_valid_and_lowers_jitter():
    from src.inference.one_euro import filter_track
    rng = np.random.default_rng(0)
    frames = 40
    smooth = np.linspace(0, 1, frames)[:, None] * rng.normal(0, 0.5, 72)[None]
    noisy = (Rotation.from_rotvec(smooth.reshape(-1, 3)) *
             Rotation.from_rotvec(rng.normal(0, 0.05, (frames * 24, 3)))).as_rotvec().reshape(frames, 72)
    pose, betas = filter_track(noisy, rng.normal(size=(frames, 10)), 0.05, 0.5)
    assert pose.shape == (frames, 72) and np.allclose(betas, betas[0])
    def jitter(p):
        r = Rotation.from_rotvec(p.reshape(-1, 3)).as_matrix().reshape(frames, -1)
        return np.abs(r[:-2] - 2 * r[1:-1] + r[2:]).mean()
    assert jitter(pose) < 0.5 * jitter(noisy)


def test_windows_cover_a_long_track_and_blend_back_to_the_input():
    """An identity 'refiner' run in overlapping windows returns the input pose for a track
    longer than a window (windows: 0, 8, 16, 24, 29 for 45 frames of 16)."""
    from src.inference.temporal import NetworkTrackSmoother, window_starts
    assert window_starts(45, 16) == [0, 8, 16, 24, 29] and window_starts(10, 16) == [0]
    calls = []

    def identity(pose2d, theta, shape):
        calls.append(theta.shape)
        rot = Rotation.from_rotvec(theta.reshape(-1, 3)).as_matrix().reshape(*theta.shape[:2], 24, 9)
        return [rot, shape, None, None]

    rng = np.random.default_rng(3)
    pose = rng.normal(0, 0.4, (45, 72)).astype(np.float32)
    refined, betas = NetworkTrackSmoother(identity, 16).smooth(np.zeros((45, 17, 3), np.float32), pose,
                                                               rng.normal(size=(45, 10)).astype(np.float32))
    assert calls == [(1, 16, 72)] * 5
    np.testing.assert_allclose(Rotation.from_rotvec(refined.reshape(-1, 3)).as_matrix(),
                               Rotation.from_rotvec(pose.reshape(-1, 3)).as_matrix(), atol=1e-5)
