"""Real photographs (from the scikit-image wheel): offline detection, landmarks, the demo, refinement."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = os.path.join(ROOT, "models", "mediapipe")
# Regions read off the 512x512 images: (x0, y0, x1, y1) pixels.
REGIONS = {
    "camera": {"person": (0, 60, 335, 512), "face": (165, 95, 275, 205), "upper_body": (0, 100, 340, 360)},
    "astronaut": {"person": (15, 10, 375, 512), "face": (165, 50, 285, 195), "upper_body": (20, 150, 370, 420)},
}


def _photo(name):
    skimage = pytest.importorskip("skimage")
    import cv2
    image = cv2.imread(os.path.join(os.path.dirname(skimage.__file__), "data", f"{name}.png"), cv2.IMREAD_COLOR)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def detector():
    if not os.path.isfile(os.path.join(MODELS, "pose_landmark_full.tflite")):
        pytest.skip(f"detector models not in {MODELS}: scripts/setup.sh could not download mediapipe==0.10.14")
    from src.inference.detection.blazepose import BlazePoseDetector
    return BlazePoseDetector(MODELS, min_score=0.4)


def _inside(point, region):
    x0, y0, x1, y1 = region
    return x0 <= point[0] <= x1 and y0 <= point[1] <= y1


def _iou(box, region):
    x, y, w, h = box
    a, b = np.array([x, y, x + w, y + h]), np.array(region, float)
    inter = np.prod(np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None))
    return inter / (np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter)


@pytest.mark.parametrize("name", ["camera", "astronaut"])
def test_one_person_with_landmarks_where_the_body_is(detector, name):
    from src.inference.detection.person import BLAZEPOSE33_NAMES
    people = detector.detect(_photo(name))
    assert len(people) == 1
    person, regions = people[0], REGIONS[name]
    assert _iou(person.box, regions["person"]) > 0.5
    lm = {n: person.landmarks[i] for i, n in enumerate(BLAZEPOSE33_NAMES)}
    for part in ("nose", "left_eye", "right_eye"):
        assert lm[part][2] > 0.5 and _inside(lm[part], regions["face"]), (part, lm[part])
    for part in ("left_shoulder", "right_shoulder"):
        assert lm[part][2] > 0.5 and _inside(lm[part], regions["upper_body"]), (part, lm[part])
    assert lm["left_shoulder"][0] > lm["right_shoulder"][0]          # both face the camera, more or less
    face_centre = np.mean([regions["face"][:2], regions["face"][2:]], axis=0)
    x, y, w, h = person.box
    assert x <= face_centre[0] <= x + w and y <= face_centre[1] <= y + h


def test_demo_on_a_photo_detects_fits_and_refines(detector, tmp_path):
    import cv2
    from src.data.synthetic.write_model import write_body_model
    photo = tmp_path / "camera.png"
    cv2.imwrite(str(photo), cv2.cvtColor(_photo("camera"), cv2.COLOR_RGB2BGR))
    data = tmp_path / "data"
    write_body_model(str(data), seed=0)
    result = subprocess.run([sys.executable, "demo.py", "--data_path", str(data), "--img", str(photo),
                             "--backbone_depth", "18", "--backbone_width", "8", "--img_size", "64",
                             "--out_folder", str(tmp_path / "out"), "--keypoints_json", "true", "--fit_steps", "20",
                             "--checkpoint_file_path", _random_checkpoint(data, tmp_path)], cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    for suffix in (".npz", ".json", ".obj", "_overlay.png", "_keypoints.json"):
        assert (tmp_path / "out" / f"camera{suffix}").is_file(), suffix
    info = json.loads((tmp_path / "out" / "camera.json").read_text())
    assert info["detection_score"] > 0.4
    assert info["refinement"]["reprojection_after_px"] < info["refinement"]["reprojection_before_px"]
    keypoints = json.loads((tmp_path / "out" / "camera_keypoints.json").read_text())["people"]
    assert len(keypoints) == 1 and keypoints[0]["order"] == "cocoplus19"
    x, y, w, h = info["bbox_xywh"]
    assert _iou((x, y, w, h), REGIONS["camera"]["person"]) > 0.5


def test_demo_adapts_the_network_to_the_detected_keypoints(detector, tmp_path):
    """demo.py --adapt N: Meta-HMR's test-time adaptation on the detector's keypoints (the auxiliary
    network is the checkpoint itself), reported per person."""
    import cv2
    from src.data.synthetic.write_model import write_body_model
    photo = tmp_path / "camera.png"
    cv2.imwrite(str(photo), cv2.cvtColor(_photo("camera"), cv2.COLOR_RGB2BGR))
    data = tmp_path / "data"
    write_body_model(str(data), seed=0)
    command = [sys.executable, "demo.py", "--data_path", str(data), "--img", str(photo), "--backbone_depth", "18",
               "--backbone_width", "8", "--img_size", "64", "--checkpoint_file_path",
               _random_checkpoint(data, tmp_path)]
    results = {}
    for name, extra in (("plain", []), ("adapted", ["--adapt", "4", "--after_innerlr", "1e-6",
                                                      "--adapt_tolerance", "0"])):
        result = subprocess.run(command + ["--out_folder", str(tmp_path / name), *extra], cwd=ROOT,
                                env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
        results[name] = json.loads((tmp_path / name / "camera.json").read_text())
    report = results["adapted"]["adaptation"]
    assert report["steps"] == 5 and "adaptation" not in results["plain"]
    assert report["keypoint_error_after_px"] < report["keypoint_error_before_px"]
    plain, adapted = (np.load(tmp_path / name / "camera.npz") for name in ("plain", "adapted"))
    assert np.abs(plain["vertices"] - adapted["vertices"]).max() > 1e-5


def _random_checkpoint(data, tmp_path):
    """An untrained small model's weights (the demo's plumbing is under test, not its accuracy)."""
    import mindspore as ms
    from model_utils.config import load_config
    from src.builders import build_model, build_smpl
    config = load_config(["--data_path", str(data), "--backbone_depth", "18", "--backbone_width", "8"])
    model = build_model(config, build_smpl(config))
    path = str(tmp_path / "random.ckpt")
    from src.checkpoints import structural_parameters
    ms.save_checkpoint([{"name": k, "data": p} for k, p in structural_parameters(model).items()], path)
    return path
