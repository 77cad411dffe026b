"""The image demo's stages on a real photograph (``bash scripts/run_bench.sh demo``), ms per image,
one run: person detection, 33 landmarks (BlazePose, LiteRT), HMR (ResNet-50, 224 px, SMPL;
checkpoint in graph mode) and 30 SMPL fitting steps (one compiled loop; timed in rounds alternating
with the HMR forward, the cost it is compared with); then the fitting's cost
per step beside the same objective in PyTorch (smplx's SMPL, torch.optim.Adam, eager)."""
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
    from src.inference.predictors import CheckpointPredictor
    from src.builders import build_model, build_smpl, set_mindspore_context
    from src.data.images import normalize_image
    from src.inference.detection.blazepose import BlazePoseDetector
    from src.inference.person_crop import PersonCrop
    from src.inference.fitting import build_fitter
    from src.data.synthetic.write_model import write_body_model
    from tests.benchmarks.timing import interleaved, print_table, time_call

    image = cv2.cvtColor(cv2.imread(os.path.join(os.path.dirname(skimage.__file__), "data", "camera.png")),
                         cv2.COLOR_BGR2RGB)
    detector = BlazePoseDetector(os.path.join(PROJECT_ROOT, "models", "mediapipe"), min_score=0.4)
    (_, hip, scale_point), = detector.detections(image)
    person, = detector.detect(image)
    folder = tempfile.mkdtemp(prefix="bench_demo_")
    write_body_model(folder)
    config = load_config(["--data_path", folder, "--fit_steps", str(REFINE_STEPS)])
    set_mindspore_context(config)
    smpl = build_smpl(config)
    predictor = CheckpointPredictor(build_model(config, smpl))
    crop = PersonCrop(person.box, config.img_size)
    batch = np.ascontiguousarray(normalize_image(crop.crop(image), config.image_normalization)[None])
    theta = predictor.run_all(batch)[0]
    keypoints = person.keypoints("cocoplus19")
    keypoints[:, :2] = crop.to_crop(keypoints[:, :2])
    refiner = build_fitter(config, smpl)
    times = {
        "detect": time_call(lambda: detector.detections(image), repeat),
        "landmarks": time_call(lambda: detector.landmarks(image, hip, scale_point), repeat),
    }
    # the HMR forward and the fitting in alternating rounds, so that machine noise hits both alike
    times.update(interleaved({"hmr": lambda: predictor.run_all(batch),
                              "refine": lambda: refiner.fit(theta[:, 3:75], theta[:, 75:], theta[:, :3],
                                                               keypoints[None])}, rounds=repeat, repeat=3))
    print_table(f"Image demo stages on skimage's camera.png (512x512), ms per image (median), {platform.machine()}, "
                f"{os.cpu_count()} cores",
                ("person detection", "33 landmarks", "HMR ResNet-50 + SMPL", f"SMPL fitting, {REFINE_STEPS} steps",
                 "total"),
                [tuple(f"{times[k]:.1f}" for k in ("detect", "landmarks", "hmr", "refine"))
                 + (f"{sum(times.values()):.1f}",)])
    torch_step = _torch_refine_step(folder, config, theta, keypoints[None])
    torch_ms = time_call(torch_step, repeat * REFINE_STEPS)
    print_table(f"Refinement per step, batch 1 (median), torch threads {_torch_threads()}",
                ("this project, ms per step", "PyTorch + smplx, ms per step", "ratio",
                 f"{REFINE_STEPS} steps / HMR forward"),
                [(f"{times['refine'] / REFINE_STEPS:.2f}", f"{torch_ms:.2f}",
                  f"{times['refine'] / REFINE_STEPS / torch_ms:.2f}", f"{times['refine'] / times['hmr']:.2f}")])


def _torch_threads():
    import torch
    return torch.get_num_threads()


def _torch_refine_step(folder, config, theta, keypoints):
    """One Adam step of the fitting objective in PyTorch from the network's prediction."""
    import smplx
    import torch
    from src.data.synthetic.body_model import build_body_model
    from tests.reference.torch_refine import make_refiner
    weights = {"sigma": config.fit_robust_sigma, "reprojection": config.fit_reprojection_weight,
               "pose": config.fit_pose_weight, "limits": config.fit_limit_weight,
               "shape": config.fit_shape_weight}
    regressor = torch.as_tensor(build_body_model(0)["cocoplus_regressor"], dtype=torch.float32)
    smpl = smplx.SMPL(os.path.join(folder, "neutral_smpl_with_cocoplus_reg.pkl"))
    step, _ = make_refiner(smpl, regressor, theta[:, 3:75].copy(), theta[:, 75:].copy(), theta[:, :3].copy(),
                           keypoints.astype(np.float32), config.fit_lr, weights)
    return step


if __name__ == "__main__":
    main()
