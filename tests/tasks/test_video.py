"""The video demo on real street footage (vtest.avi of Debian's opencv-doc, fetched by
``scripts/setup.sh --test``): people found and followed, boxes on them, an overlay that opens."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VTEST = os.path.join(ROOT, "models", "media", "vtest.avi")
MODELS = os.path.join(ROOT, "models", "mediapipe")
TINY = ["--backbone_depth", "18", "--backbone_width", "8", "--img_size", "64", "--num_workers", "1",
        "--progress_bar", "false"]
REFINER = ["--temporal_dim", "8", "--temporal_heads", "2", "--temporal_depth", "1", "--temporal_hidden", "16"]
NUM_FRAMES = 200
# People read off frames 0, 60, 120 and 199 of vtest.avi: (x0, y0, x1, y1) pixels of each
# person fully in view (the two far figures at the top right of frame 199 are about 50 px tall).
PEOPLE = {
    0: [(252, 220, 283, 308), (500, 157, 530, 233), (638, 240, 686, 322)],
    60: [(366, 168, 384, 238), (378, 180, 398, 260), (400, 183, 428, 263), (466, 203, 502, 292),
         (504, 200, 532, 284), (615, 232, 651, 340)],
    120: [(165, 68, 181, 106), (375, 182, 403, 262), (418, 182, 442, 260), (510, 214, 542, 297),
          (560, 128, 585, 193), (586, 135, 610, 197), (650, 131, 676, 203), (690, 208, 722, 302)],
    199: [(87, 155, 117, 216), (225, 190, 251, 268), (492, 145, 522, 220), (612, 262, 642, 368),
          (700, 250, 740, 352), (678, 98, 700, 153), (703, 100, 723, 153)],
}
# Of those, people half hidden by the sign post or by the person beside them (a box may be on
# them; they need not be found).
HALF_HIDDEN = {(60, (366, 168, 384, 238)), (60, (400, 183, 428, 263)), (120, (418, 182, 442, 260))}
# A person at least this tall (pixels) in the table, not half hidden, must be found.
MUST_FIND_HEIGHT = 70


def _iou(box, region):
    x, y, w, h = box
    a, b = np.array([x, y, x + w, y + h], float), np.array(region, float)
    inter = np.prod(np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None))
    return inter / (np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter)


@pytest.fixture(scope="module")
def video_run(tiny_data_dir, tiny_checkpoint, tmp_path_factory):
    """demo.py --video vtest.avi --max_frames 200 with a tiny trained checkpoint and an exported
    (untrained) ONNX refiner."""
    assert os.path.isfile(VTEST), f"{VTEST} missing: scripts/setup.sh --test fetches it (apt-get download opencv-doc)"
    if not os.path.isfile(os.path.join(MODELS, "pose_landmark_full.tflite")):
        pytest.skip(f"detector models not in {MODELS}: scripts/setup.sh could not download mediapipe==0.10.14")
    from conftest import tiny_config
    from src.builders import build_smpl
    from src.deployment.export_refiner import export_refiner
    from src.inference.temporal import build_temporal_refiner
    work = tmp_path_factory.mktemp("video")
    checkpoint = tiny_checkpoint()[1]
    config = tiny_config(tiny_data_dir, work, *REFINER, "--file_format", "ONNX")
    onnx_file = export_refiner(config, build_temporal_refiner(config, build_smpl(config)), str(work / "refiner.onnx"))
    out = work / "out"
    command = [sys.executable, "demo.py", "--data_path", str(tiny_data_dir), *TINY, *REFINER, "--video", VTEST,
               "--max_frames", str(NUM_FRAMES), "--checkpoint_file_path", checkpoint, "--temporal_model", onnx_file,
               "--out_folder", str(out)]
    result = subprocess.run(command, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True,
                            timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    return {"out": out, "listing": json.loads((out / "tracks.json").read_text()), "checkpoint": checkpoint}


def test_people_are_followed_through_200_frames(video_run):
    listing = video_run["listing"]
    assert listing["frames"] == NUM_FRAMES and listing["unreadable_frames"] == []
    lengths = sorted((len(t["frames"]) for t in listing["tracks"]), reverse=True)
    assert sum(n >= 30 for n in lengths) >= 4, lengths
    for track in listing["tracks"]:
        assert track["frames"] == sorted(set(track["frames"])), "a track visits each frame once, in order"


def test_boxes_are_on_people(video_run):
    boxes = {}
    for track in video_run["listing"]["tracks"]:
        for frame, box in zip(track["frames"], track["boxes"]):
            boxes.setdefault(frame, []).append(box)
    for frame, people in PEOPLE.items():
        found = boxes.get(frame, [])
        for box in found:                                   # every box is on somebody
            assert max(_iou(box, person) for person in people) > 0.3, (frame, box)
        for person in people:                               # everybody clearly in view is boxed
            if person[3] - person[1] >= MUST_FIND_HEIGHT and (frame, person) not in HALF_HIDDEN:
                assert found and max(_iou(box, person) for box in found) > 0.4, (frame, person, found)


def test_overlay_opens_with_every_frame_and_tracks_are_complete(video_run):
    import av
    import cv2
    out = video_run["out"]
    with av.open(str(out / "overlay.mp4")) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and (stream.width, stream.height) == (768, 576)
        decoded = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    assert len(decoded) == NUM_FRAMES
    # meshes are drawn: inside the first track's box the overlay differs from the input frame
    listing = video_run["listing"]
    track = max(listing["tracks"], key=lambda t: len(t["frames"]))
    frame, (x, y, w, h) = track["frames"][0], [int(v) for v in track["boxes"][0]]
    capture = cv2.VideoCapture(VTEST)
    for _ in range(frame + 1):
        ok, image = capture.read()
    capture.release()
    assert ok
    image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB).astype(np.float32)
    drawn = decoded[frame].astype(np.float32)
    inside = np.abs(drawn[y:y + h, x:x + w] - image[y:y + h, x:x + w]).mean()
    outside = np.abs(drawn[450:, :200] - image[450:, :200]).mean()          # grass, nobody there
    assert inside > 4 * outside + 5, (inside, outside)
    # the track's npz: per-frame arrays, the ONNX refiner (identity before training) keeps the pose
    assert listing["temporal"] == "refiner"
    saved = np.load(out / track["npz"])
    frames = len(track["frames"])
    for key, shape in (("pose", (72,)), ("pose_per_frame", (72,)), ("betas", (10,)), ("cam", (3,)),
                       ("translation", (3,)), ("keypoints3d", (17, 3)), ("detected_keypoints", (17, 3))):
        assert saved[key].shape == (frames,) + shape, key
    from scipy.spatial.transform import Rotation
    refined = Rotation.from_rotvec(saved["pose"].reshape(-1, 3)).as_matrix()
    per_frame = Rotation.from_rotvec(saved["pose_per_frame"].reshape(-1, 3)).as_matrix()
    assert np.abs(refined - per_frame).max() < 1e-3
    assert np.all(saved["translation"][:, 2] > 0)


def test_frames_folder_run_skips_a_broken_frame_and_resumes_after_a_kill(video_run, tiny_data_dir, tmp_path):
    """--frames DIR: an undecodable image is counted and skipped; a run killed after its first
    frames continues from them (their stored results are not recomputed); no refiner -> the
    One-Euro filter, said in the log and in tracks.json."""
    import cv2
    from conftest import kill_at_checkpoint
    folder = tmp_path / "frames"
    folder.mkdir()
    capture = cv2.VideoCapture(VTEST)
    for index in range(10):
        ok, image = capture.read()
        assert ok
        cv2.imwrite(str(folder / f"{index:03d}.jpg"), image)
    capture.release()
    (folder / "004.jpg").write_bytes(b"not an image")
    out = tmp_path / "out"
    command = [sys.executable, "demo.py", "--data_path", str(tiny_data_dir), *TINY, "--frames", str(folder),
               "--checkpoint_file_path", video_run["checkpoint"], "--out_folder", str(out)]
    env = dict(os.environ, PYTHONPATH=ROOT)
    assert kill_at_checkpoint(command, str(out / "frames"), "000002", env, timeout=600) != 0
    kept = {name: os.path.getmtime(out / "frames" / name) for name in os.listdir(out / "frames")}
    assert kept and len(kept) < 10
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert all(os.path.getmtime(out / "frames" / name) == stamp for name, stamp in kept.items())
    assert sorted(os.listdir(out / "frames")) == [f"{index:06d}.npz" for index in range(10)]
    listing = json.loads((out / "tracks.json").read_text())
    assert listing["unreadable_frames"] == [4] and listing["temporal"] == "filter"
    assert "could not be decoded" in result.stderr and "One-Euro" in result.stderr
    assert listing["tracks"] and all(4 not in track["frames"] for track in listing["tracks"])


EHGFORMER = ["--temporal_refiner", "ehgformer", "--ehgformer_dim", "16", "--ehgformer_depth", "1", "--ehgformer_heads",
             "2", "--ehgformer_hidden", "16"]
CHAIN_FRAMES = 60


def test_ehgformer_refines_the_tracks_from_frame_normalised_keypoints(video_run, tiny_data_dir, tmp_path):
    """The seed's refiner in the chain (``--refiner_model ehg.onnx``, a small random EHGFormer exported with
    the seed's names) on the first 60 frames, their detections and per-frame results reused from the
    200-frame run: the first 8 frames of the longest track (covered by its first 16-frame window only) are
    onnxruntime's output on the track's keypoints normalised by hand as EHGFormer's data
    (x / w * 2 - 1, y / w * 2 - h / w)."""
    import shutil

    import onnxruntime as ort
    from scipy.spatial.transform import Rotation

    from conftest import tiny_config
    from src.builders import build_smpl
    from src.deployment.export_refiner import export_refiner
    from src.inference.temporal import build_temporal_refiner
    config = tiny_config(tiny_data_dir, tmp_path, *EHGFORMER, "--file_format", "ONNX")
    onnx_file = export_refiner(config, build_temporal_refiner(config, build_smpl(config)), str(tmp_path / "ehg"))
    out = tmp_path / "out"
    out.mkdir()
    shutil.copytree(video_run["out"] / "frames", out / "frames")
    run = json.loads((video_run["out"] / "run.json").read_text())
    (out / "run.json").write_text(json.dumps(dict(run, max_frames=CHAIN_FRAMES)))     # frames 0-59 are the same
    command = [sys.executable, "demo.py", "--data_path", str(tiny_data_dir), *TINY, "--video", VTEST, "--max_frames",
               str(CHAIN_FRAMES), "--checkpoint_file_path", video_run["checkpoint"], "--refiner_model", onnx_file,
               "--out_folder", str(out)]
    result = subprocess.run(command, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    listing = json.loads((out / "tracks.json").read_text())
    assert listing["frames"] == CHAIN_FRAMES and listing["temporal"] == "refiner"
    track = max(listing["tracks"], key=lambda t: len(t["frames"]))
    assert len(track["frames"]) >= 16
    saved = np.load(out / track["npz"])
    pose2d = saved["detected_keypoints"][:16].astype(np.float32)
    width, height = 768.0, 576.0
    pose2d[..., 0] = pose2d[..., 0] / width * 2 - 1
    pose2d[..., 1] = pose2d[..., 1] / width * 2 - height / width
    pose2d[..., 2] = np.clip(pose2d[..., 2], 0, 1)
    session = ort.InferenceSession(onnx_file, providers=["CPUExecutionProvider"])
    rot = session.run(None, {"pose2d": pose2d[None], "hybrik_theta": saved["pose_per_frame"][None, :16],
                             "hybrik_shape": saved["betas"][None, :16]})[0][0, :8].reshape(-1, 3, 3)
    refined = Rotation.from_rotvec(saved["pose"][:8].reshape(-1, 3)).as_matrix()
    np.testing.assert_allclose(refined, rot, atol=1e-4)
    assert np.abs(saved["pose"] - saved["pose_per_frame"]).max() > 1e-2
