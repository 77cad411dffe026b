"""The npz schema, the training/eval sources and their augmentation."""
import logging

import numpy as np
import pytest

from HMR.constants import J24_TO_COCOPLUS19
from model_utils.errors import UserInputError
from src.data.schema import load_dataset_npz, load_mocap_npz
from src.data.sources import TRAIN_COLUMNS, EvalSource, TrainSource

AUGMENT = dict(flip_prob=0.5, scale_jitter=0.25, rotation_jitter=30.0, rotation_prob=0.6, translation_jitter=0.05,
               colour_jitter=0.4)


def _source(data_dir, paths=("synthetic_3d_train.npz", "synthetic_2d_train.npz"), ratios=(0.75, 0.25), **kw):
    folder = data_dir / "synthetic"
    args = dict(batch_size=4, num_steps=20, image_size=64, normalization="hmr", keypoint_indices=J24_TO_COCOPLUS19,
                seed=0, augment=AUGMENT)
    args.update(kw)
    return TrainSource([str(folder / p) for p in paths], list(ratios), str(folder / "mocap.npz"), **args)


def test_synthetic_files_follow_the_schema(tiny_data_dir):
    full = load_dataset_npz(str(tiny_data_dir / "synthetic" / "synthetic_3d_train.npz"))
    assert full["part"].shape == (24, 24, 3) and full["S"].shape == (24, 24, 4) and full["has_smpl"].min() == 1
    two_d = load_dataset_npz(str(tiny_data_dir / "synthetic" / "synthetic_2d_train.npz"))
    assert two_d["S"][..., 3].max() == 0 and two_d["has_smpl"].max() == 0      # filled in for 2D-only data
    assert load_mocap_npz(str(tiny_data_dir / "synthetic" / "mocap.npz"))["pose"].shape == (64, 72)


def test_schema_errors_name_file_and_key(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, imgname=np.array(["a.jpg"]), center=np.zeros((1, 2)), scale=np.ones(1), part=np.zeros((1, 14, 3)))
    with pytest.raises(UserInputError, match=r"bad.npz: key 'part' has shape \(1, 14, 3\), expected \('N', 24, 3\)"):
        load_dataset_npz(str(path))
    np.savez(path, imgname=np.array(["a.jpg"]), center=np.zeros((1, 2)))
    with pytest.raises(UserInputError, match=r"bad.npz: not a dataset npz, missing key\(s\) \['scale', 'part'\]"):
        load_dataset_npz(str(path))
    with pytest.raises(UserInputError, match="dataset file not found"):
        load_dataset_npz(str(tmp_path / "none.npz"))
    np.savez(path, pose=np.zeros((3, 72)))
    with pytest.raises(UserInputError, match=r"not a mocap npz, missing key\(s\) \['shape'\]"):
        load_mocap_npz(str(path))


def test_missing_image_folder_names_dataset_and_path(tiny_data_dir, tmp_path):
    path = str(tiny_data_dir / "synthetic" / "synthetic_eval.npz")
    with pytest.raises(UserInputError, match=r"synthetic_eval.npz: image folder not found: .*nowhere"):
        EvalSource(path, 64, "hmr", J24_TO_COCOPLUS19, image_root=str(tmp_path / "nowhere"))


def test_batches_mix_datasets_by_ratio(tiny_data_dir):
    source = _source(tiny_data_dir)
    located = [source.locate(p)[0] for p in range(4 * 5)]
    assert all(located[s * 4:(s + 1) * 4] == [0, 0, 0, 1] for s in range(5))


def test_samples_are_a_pure_function_of_position(tiny_data_dir):
    a, b = _source(tiny_data_dir), _source(tiny_data_dir)
    for position in (0, 7, 13):
        for x, y in zip(a[position], b[position]):
            np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0][0], a[1][0])


def test_every_sample_seen_once_per_cycle(tiny_data_dir):
    source = _source(tiny_data_dir, paths=("synthetic_3d_train.npz",), ratios=(1.0,))
    indices = [source.locate(p)[1] for p in range(24)]
    assert sorted(indices) == list(range(24))


def test_ranks_read_disjoint_samples(tiny_data_dir):
    ranks = [_source(tiny_data_dir, paths=("synthetic_3d_train.npz",), ratios=(1.0,), rank=r, world_size=2)
             for r in (0, 1)]
    seen = [{s.locate(p)[1] for p in range(12)} for s in ranks]      # 3 steps x 4 per rank = 24 = one cycle
    assert not seen[0] & seen[1] and len(seen[0] | seen[1]) == 24


def test_augmented_2d_and_3d_stay_consistent(tiny_data_dir):
    """After flips and rotations the 2D keypoints are still (close to) a scaled, shifted
    orthographic view of the 3D joints: image and 3D labels were transformed alike."""
    source = _source(tiny_data_dir, paths=("synthetic_3d_train.npz",), ratios=(1.0,),
                     augment=dict(AUGMENT, flip_prob=0.5, rotation_prob=1.0))
    residuals, mirrored = [], 0
    for position in range(24):
        sample = dict(zip(TRAIN_COLUMNS, source[position]))
        kp, joints = sample["keypoints"][:14], sample["joints3d"][:, :3]
        vis = kp[:, 2] > 0
        design = np.concatenate([joints[vis, :2].reshape(-1, 1), np.tile(np.eye(2), (vis.sum(), 1))], 1)
        solution, *_ = np.linalg.lstsq(design, kp[vis, :2].reshape(-1), rcond=None)
        residuals.append(np.abs(design @ solution - kp[vis, :2].reshape(-1)).mean())
        mirrored += solution[0] < 0
    assert max(residuals) < 0.05 and mirrored == 0


def test_augmented_pose_matches_augmented_joints(tiny_data_dir):
    """The SMPL pose is rotated/flipped with the 3D joints: posing the body reproduces them."""
    import mindspore as ms
    from HMR import SMPL
    smpl = SMPL(str(tiny_data_dir / "neutral_smpl_with_cocoplus_reg.pkl"))
    source = _source(tiny_data_dir, paths=("synthetic_3d_train.npz",), ratios=(1.0,),
                     augment=dict(AUGMENT, flip_prob=0.5, rotation_prob=1.0))
    samples = [dict(zip(TRAIN_COLUMNS, source[p])) for p in range(12)]
    vertices, _ = smpl(ms.Tensor(np.stack([s["betas"] for s in samples])), ms.Tensor(np.stack([s["pose"] for s in samples])))
    joints = smpl.regress(vertices, "cocoplus").asnumpy()[:, :14]
    gt = np.stack([s["joints3d"][:, :3] for s in samples])
    centre = lambda x: x - (x[:, 2:3] + x[:, 3:4]) / 2  # noqa: E731
    assert np.linalg.norm(centre(joints) - centre(gt), axis=-1).max() < 0.01


def test_corrupt_image_is_masked_not_fatal(tiny_data_dir, tmp_path, caplog):
    import shutil
    folder = tmp_path / "copy"
    shutil.copytree(tiny_data_dir / "synthetic", folder)
    data = dict(np.load(folder / "synthetic_eval.npz"))
    (folder / data["imgname"][3]).write_bytes(b"not a jpeg")
    source = EvalSource(str(folder / "synthetic_eval.npz"), 64, "hmr", J24_TO_COCOPLUS19)
    with caplog.at_level(logging.WARNING):
        bad, good = source[3], source[2]
    assert bad[6] == 0.0 and good[6] == 1.0 and np.all(bad[0] == -1.0)      # a black crop
    assert "unreadable image" in caplog.text and data["imgname"][3] in caplog.text


def test_image_normalisation_ranges(tiny_data_dir):
    path = str(tiny_data_dir / "synthetic" / "synthetic_eval.npz")
    hmr = EvalSource(path, 64, "hmr", J24_TO_COCOPLUS19)[0][0]
    imagenet = EvalSource(path, 64, "imagenet", J24_TO_COCOPLUS19)[0][0]
    assert hmr.shape == (3, 64, 64) and hmr.min() >= -1.0 and hmr.max() <= 1.0
    np.testing.assert_allclose(imagenet[0], ((hmr[0] + 1) / 2 - 0.485) / 0.229, atol=1e-5)


def test_a_split_rendered_later_equals_one_rendered_with_the_others(body_model_dir, tmp_path):
    """The main job renders only the splits asked for; a later request renders just the missing
    split, leaves the written ones alone, and the split is the same as when all were rendered at once."""
    from HMR import SMPL
    from src.data.synthetic.dataset import write_synthetic_datasets
    smpl = SMPL(str(body_model_dir / "neutral_smpl_with_cocoplus_reg.pkl"),
                extra_regressors={"h36m": str(body_model_dir / "J_regressor_h36m.npy")})
    sizes = {"3d_train": 2, "2d_train": 2, "eval": 3, "mocap": 8, "frames_eval": 2}
    late, together = tmp_path / "late", tmp_path / "together"
    first = write_synthetic_datasets(str(late), smpl, sizes=sizes, workers=1, splits=("eval",))
    assert sorted(first) == ["eval", "mean_params", "mocap"]
    stamps = {key: (late / "synthetic" / name).stat().st_mtime_ns
              for key, name in (("eval", "synthetic_eval.npz"), ("mocap", "mocap.npz"),
                                ("image", "images/eval_00000.jpg"))}
    second = write_synthetic_datasets(str(late), smpl, sizes=sizes, workers=1, splits=("eval", "frames_eval"))
    assert sorted(second) == ["eval", "frames_eval", "mean_params", "mocap"]
    assert not (late / "synthetic" / "synthetic_3d_train.npz").exists()
    for key, name in (("eval", "synthetic_eval.npz"), ("mocap", "mocap.npz"), ("image", "images/eval_00000.jpg")):
        assert (late / "synthetic" / name).stat().st_mtime_ns == stamps[key], name
    write_synthetic_datasets(str(together), smpl, sizes=sizes, workers=1)
    for name in ("synthetic_eval.npz", "synthetic_frames_eval.npz", "mocap.npz"):
        a, b = np.load(late / "synthetic" / name), np.load(together / "synthetic" / name)
        assert sorted(a.files) == sorted(b.files), name
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"{name}: {key}")
    for image in ("eval_00002.jpg", "frames_eval_00001.jpg"):
        assert (late / "synthetic" / "images" / image).read_bytes() == (together / "synthetic" / "images" /
                                                                        image).read_bytes()
    with pytest.raises(ValueError, match="unknown synthetic split"):
        write_synthetic_datasets(str(late), smpl, sizes=sizes, splits=("frames",))
