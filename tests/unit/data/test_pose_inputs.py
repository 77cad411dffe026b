"""3DCrowdNet's 2D pose input: the PoseFix-style corruption (``src/data/posefix.py``) against the outcome
probabilities of 3DCrowdNet's ``common/utils/posefix.py`` (its tables, copied here), and the mapping of a crop's J24
keypoints onto the 30 joints in the 64-grid (``src/data/pose_inputs.py``) against 3DCrowdNet's joint order."""
import math

import numpy as np
import pytest

# COCO's OKS sigmas as posefix.py lists them (/10), nose first
SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89]) / 10.0
# 3DCrowdNet's utils/smpl.py joints_name (the 30-joint order)
CROWD_ORDER = ('Pelvis', 'L_Hip', 'R_Hip', 'Torso', 'L_Knee', 'R_Knee', 'Spine', 'L_Ankle', 'R_Ankle', 'Chest', 'L_Toe',
               'R_Toe', 'Neck', 'L_Thorax', 'R_Thorax', 'Head', 'L_Shoulder', 'R_Shoulder', 'L_Elbow', 'R_Elbow',
               'L_Wrist', 'R_Wrist', 'L_Hand', 'R_Hand', 'Nose', 'L_Eye', 'R_Eye', 'L_Ear', 'R_Ear', 'Head_top')


def _standing_pose():
    """A COCO-17 pose of a person about 190 px tall in crop pixels, legs apart, every joint labelled."""
    xy = [(128, 40), (134, 34), (122, 34), (140, 38), (116, 38), (150, 70), (106, 70), (158, 105), (98, 105),
          (162, 140), (94, 140), (140, 140), (116, 140), (170, 185), (86, 185), (196, 228), (60, 228)]
    return np.concatenate([np.array(xy, np.float64), np.ones((17, 1))], 1)


def _distances(outcomes, pose, joint):
    return np.array([math.hypot(*(o[joint, :2] - pose[joint, :2])) for o in outcomes])


def test_outcome_frequencies_follow_posefix_tables():
    """The nose (no partner, no near people, 17 visible joints): jitter 0.10, miss 0.02, inversion and swap
    impossible, good 1 - 0.10 - 0.02 - 0.01 - 0.01, renormalised over the possible ones; told apart by the distance
    from the label (good < OKS 0.85 distance <= jitter < OKS 0.50 distance <= miss)."""
    from src.data.posefix import synthesize_pose
    pose = _standing_pose()
    area = 140.0 * 200.0
    outcomes = [synthesize_pose(pose, np.zeros((0, 17, 3)), area, 0, np.random.default_rng(seed))
                for seed in range(300)]
    assert all(np.all(o[:, 2] == 1) for o in outcomes)
    ks = {level: math.sqrt(-2 * area * (SIGMAS[0] * 2) ** 2 * math.log(level)) for level in (0.85, 0.50)}
    d = _distances(outcomes, pose, 0)
    good, jitter, miss = 1 - .10 - .02 - .01 - .01, .10, .02
    total = good + jitter + miss
    assert abs(np.mean(d < ks[0.85]) - good / total) < 0.055
    assert abs(np.mean((d >= ks[0.85]) & (d < ks[0.50])) - jitter / total) < 0.055
    assert abs(np.mean(d >= ks[0.50]) - miss / total) < 0.02


def test_inversion_lands_near_the_partner_and_swap_near_the_near_person():
    """The left ankle (lower body: inversion 0.06) lands within the OKS 0.50 distance of the right ankle in a few
    per cent of draws. A near person's ankles (a swap can take either) get it with swap probability 0.10 when the
    person is crowded (14 joints labelled, three overlaps) against 0.03 otherwise (17 labelled, no overlap), and
    never without a near person."""
    from src.data.posefix import synthesize_pose
    pose = _standing_pose()
    area = 140.0 * 200.0
    near = pose.copy()
    near[:, 1] -= 100.0         # its ankles beyond the reach of a miss around this person's (OKS 0.10 distance)
    partial = pose.copy()
    partial[1:4, 2] = 0.0
    radius = math.sqrt(-2 * area * (SIGMAS[15] * 2) ** 2 * math.log(0.5))

    def share(joints, people, overlap, target):
        outs = [synthesize_pose(joints, people, area, overlap, np.random.default_rng(s)) for s in range(160)]
        return np.mean([min(math.hypot(*(o[15, :2] - t)) for t in target) < radius for o in outs])

    alone = np.zeros((0, 17, 3))
    assert 0.02 < share(pose, alone, 0, [pose[16, :2]]) < 0.12
    crowded = share(partial, near[None], 3, [near[15, :2], near[16, :2]])
    sparse = share(pose, near[None], 0, [near[15, :2], near[16, :2]])
    assert 0.05 < crowded < 0.16 and sparse < 0.06 and crowded > sparse + 0.03
    assert share(pose, alone, 0, [near[15, :2], near[16, :2]]) == 0.0


def test_keypoints_map_onto_the_30_joints_by_name():
    from src.data.pose_inputs import pose_input
    keypoints = np.zeros((24, 3), np.float32)
    keypoints[0] = (-0.5, 0.5, 1)          # J24 0: right ankle
    keypoints[13] = (0.0, -1.0, 1)         # J24 13: head top, on the crop's top edge
    keypoints[19] = (0.25, -0.75, 1)       # J24 19: nose
    keypoints[9] = (0.3, 0.1, 0)           # J24 9: left shoulder, not visible
    keypoints[14] = (0.0, 0.0, 1)          # J24 14: pelvis
    joints, mask = pose_input(keypoints)
    assert joints.shape == (30, 2) and mask.shape == (30, 1)
    np.testing.assert_allclose(joints[CROWD_ORDER.index('R_Ankle')], (16.0, 48.0))
    np.testing.assert_allclose(joints[CROWD_ORDER.index('Head_top')], (32.0, 0.0))
    np.testing.assert_allclose(joints[CROWD_ORDER.index('Nose')], (40.0, 8.0))
    np.testing.assert_allclose(joints[CROWD_ORDER.index('Pelvis')], (32.0, 32.0))
    given = {CROWD_ORDER[i] for i in np.flatnonzero(mask[:, 0])}
    assert given == {'R_Ankle', 'Head_top', 'Nose', 'Pelvis'}
    # joints the J24 set does not have stay masked (3DCrowdNet's transform_joint_to_other_db leaves them at 0)
    for name in ('Torso', 'Spine', 'Chest', 'L_Toe', 'L_Thorax', 'Head', 'L_Hand'):
        assert mask[CROWD_ORDER.index(name), 0] == 0 and np.all(joints[CROWD_ORDER.index(name)] == 0)


def test_corruption_is_seeded_and_keeps_the_mask():
    from src.data.pose_inputs import pose_input
    rng = np.random.default_rng(0)
    keypoints = np.concatenate([rng.uniform(-0.6, 0.6, (24, 2)), np.ones((24, 1))], 1).astype(np.float32)
    clean, clean_mask = pose_input(keypoints)
    a, mask_a = pose_input(keypoints, seed=[0, 3000, 5])
    b, _ = pose_input(keypoints, seed=[0, 3000, 5])
    c, _ = pose_input(keypoints, seed=[0, 3000, 6])
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(mask_a, clean_mask)
    # only the COCO joints move: the pelvis, neck and head top are not COCO keypoints
    for name in ('Pelvis', 'Neck', 'Head_top'):
        np.testing.assert_array_equal(a[CROWD_ORDER.index(name)], clean[CROWD_ORDER.index(name)])


def test_the_two_providers_of_a_sample_corrupt_it_once(monkeypatch):
    """``joints`` and ``joints_mask`` of one sample come from one PoseFix draw; a new seed or pose draws again."""
    import src.data.pose_inputs as pose_inputs
    from src.data.extra_inputs import extra_input_values
    calls = []
    real = pose_inputs.synthesize_pose
    monkeypatch.setattr(pose_inputs, "synthesize_pose", lambda *args: calls.append(1) or real(*args))
    rng = np.random.default_rng(1)
    keypoints = np.concatenate([rng.uniform(-0.6, 0.6, (24, 2)), np.ones((24, 1))], 1).astype(np.float32)
    frame = np.zeros(6, np.float32)
    joints, mask = extra_input_values(("joints", "joints_mask"), frame, {"keypoints": keypoints, "seed": [0, 1]})
    assert len(calls) == 1
    want_joints, want_mask = pose_inputs.pose_input(keypoints, [0, 1])
    np.testing.assert_array_equal(joints, want_joints)
    np.testing.assert_array_equal(mask, want_mask)
    extra_input_values(("joints", "joints_mask"), frame, {"keypoints": keypoints, "seed": [0, 2]})
    extra_input_values(("joints",), frame, {"keypoints": keypoints * 0.5, "seed": [0, 2]})
    assert len(calls) == 4          # the two calls to pose_input above, and one per new sample


@pytest.mark.parametrize("missing", ["sample", "keypoints"])
def test_a_job_without_a_2d_pose_is_told_so(missing):
    from model_utils.errors import UserInputError
    from src.data.extra_inputs import extra_input_values
    sample = None if missing == "sample" else {"seed": None}
    with pytest.raises(UserInputError, match="takes a 2D pose per crop"):
        extra_input_values(("joints",), np.zeros(6, np.float32), sample)


def test_a_detected_person_gives_the_crop_its_2d_pose(tmp_path):
    """The demos' path (``src.inference.crops.crop_inputs``): a detected person's J24 pixels, brought into the crop,
    become 3DCrowdNet's ``joints`` in the 64-grid of the 256 px crop by joint name; joints the detector lacks (the
    head top here) and those outside the crop are masked."""
    from model_utils.config import load_config
    from src.inference.crops import crop_inputs
    from src.inference.person_crop import PersonCrop
    from HMR.constants import J24_NAMES
    config = load_config(["--architecture", "crowdnet", "--pose_head", "vposer", "--img_size", "256",
                          "--image_normalization", "unit", "--data_path", str(tmp_path)])
    image = np.zeros((480, 640, 3), np.uint8)
    crop = PersonCrop(np.array([200.0, 100.0, 200.0, 300.0]), (256, 256))
    rng = np.random.default_rng(3)
    keypoints = np.concatenate([rng.uniform([220, 120], [380, 380], (24, 2)), np.ones((24, 1))], 1)
    keypoints[J24_NAMES.index("head_top"), 2] = 0
    keypoints[J24_NAMES.index("left_wrist"), :2] = [5.0, 5.0]                    # far outside the crop
    batch, (joints, mask) = crop_inputs(config, crop, image, 1000.0, keypoints)
    assert batch.shape == (1, 3, 256, 256) and joints.shape == (1, 30, 2) and mask.shape == (1, 30, 1)
    grid = (crop.to_crop(keypoints[:, :2]) + 1.0) * 32.0
    for j24_name, crowd_name in (("right_ankle", "R_Ankle"), ("left_knee", "L_Knee"), ("pelvis", "Pelvis"),
                                 ("neck", "Neck"), ("nose", "Nose"), ("right_ear", "R_Ear")):
        np.testing.assert_allclose(joints[0, CROWD_ORDER.index(crowd_name)], grid[J24_NAMES.index(j24_name)],
                                   rtol=1e-5, err_msg=crowd_name)
        assert mask[0, CROWD_ORDER.index(crowd_name), 0] == 1.0
    assert mask[0, CROWD_ORDER.index("Head_top"), 0] == 0 and mask[0, CROWD_ORDER.index("L_Wrist"), 0] == 0
    assert mask[0, CROWD_ORDER.index("Torso"), 0] == 0                        # no J24 joint of that name
