"""The image demo's stages on a real photograph (``bash scripts/run_bench.sh demo``), ms per image,
one run: person detection, 33 landmarks (BlazePose, LiteRT), HMR (ResNet-50, 224 px, SMPL;
checkpoint in graph mode) and 30 refinement steps."""
import os
import platform
import tempfile

import numpy as np

from model_utils.device_adapter import configure_cpu_isa

REFINE_STEPS = 30


def main(repeat=5):
    configure_cpu_isa()
    import cv2
    import skimage

    from model_utils.config import PROJECT_ROOT, load_config
    from src.deployment.backends import CheckpointPredictor
    from src.builders import build_model, build_smpl, set_mindspore_context
    from src.data.images import normalize_image
    from src.demo.detection.blazepose import BlazePoseDetector
    from src.demo.person_crop import PersonCrop
    from src.demo.refine import build_refiner
    from src.data.synthetic.write_model import write_body_model
    from tests.benchmarks.timing import print_table, time_call

    image = cv2.cvtColor(cv2.imread(os.path.join(os.path.dirname(skimage.__file__), "data", "camera.png")),
                         cv2.COLOR_BGR2RGB)
    detector = BlazePoseDetector(os.path.join(PROJECT_ROOT, "models", "mediapipe"), min_score=0.4)
    (_, hip, scale_point), = detector.detections(image)
    person, = detector.detect(image)
    folder = tempfile.mkdtemp(prefix="bench_demo_")
    write_body_model(folder)
    config = load_config(["--data_path", folder, "--refine", str(REFINE_STEPS)])
    set_mindspore_context(config)
    smpl = build_smpl(config)
    predictor = CheckpointPredictor(build_model(config, smpl))
    crop = PersonCrop(person.box, config.img_size)
    batch = np.ascontiguousarray(normalize_image(crop.crop(image), config.image_normalization)[None])
    theta = predictor.run_all(batch)[0]
    keypoints = person.keypoints("cocoplus19")
    keypoints[:, :2] = crop.to_crop(keypoints[:, :2])
    refiner = build_refiner(config, smpl)
    times = {
        "detect": time_call(lambda: detector.detections(image), repeat),
        "landmarks": time_call(lambda: detector.landmarks(image, hip, scale_point), repeat),
        "hmr": time_call(lambda: predictor.run_all(batch), repeat),
        "refine": time_call(lambda: refiner.refine(theta[:, 3:75], theta[:, 75:], theta[:, :3], keypoints[None]),
                            max(1, repeat // 2)),
    }
    print_table(f"Image demo stages on skimage's camera.png (512x512), ms per image (median), {platform.machine()}, "
                f"{os.cpu_count()} cores",
                ("person detection", "33 landmarks", "HMR ResNet-50 + SMPL", f"refinement, {REFINE_STEPS} steps",
                 "total"),
                [tuple(f"{times[k]:.1f}" for k in ("detect", "landmarks", "hmr", "refine"))
                 + (f"{sum(times.values()):.1f}",)])


if __name__ == "__main__":
    main()
