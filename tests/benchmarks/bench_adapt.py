"""Meta-HMR's test-time adaptation against the network forward and against ``--fit_steps 30``
(``bash scripts/run_bench.sh adapt``), ms per image, one run: ResNet-50 at 224 px, the 6D head with
Meta-HMR's 10 regressor iterations, batch 8 (graph mode). Adaptation = step 0 (SGD on the fast
parameters against 2D keypoints and the auxiliary network) + 14 Adam steps on every weight
(early stop off) + the final forward; fitting = 30 Adam steps on pose, shape and camera."""
import os
import platform
import tempfile

import numpy as np

from model_utils.device_adapter import configure_cpu_isa

BATCH, ADAPT_STEPS, REFINE_STEPS = 8, 14, 30


def main(repeat=2):
    configure_cpu_isa()
    from model_utils.config import load_config
    from src.builders import build_aux_model, build_model, build_smpl, set_mindspore_context
    from src.data.synthetic.write_model import write_body_model
    from src.inference.adaptation import build_adapter
    from src.inference.fitting import build_fitter
    from src.inference.predictors import CheckpointPredictor
    from tests.benchmarks.timing import print_table, time_call

    folder = tempfile.mkdtemp(prefix="bench_adapt_")
    write_body_model(folder)
    common = ["--data_path", folder, "--pose_head", "rot6d", "--regressor_iterations", "10"]
    config = load_config(common + ["--adapt", str(ADAPT_STEPS), "--adapt_tolerance", "0"])
    set_mindspore_context(config)
    smpl = build_smpl(config)
    model = build_model(config, smpl)
    aux_file = os.path.join(folder, "aux.ckpt")
    import mindspore as ms

    from src.checkpoints import structural_parameters
    ms.save_checkpoint([{"name": k, "data": p} for k, p in structural_parameters(build_aux_model(config, smpl)).items()],
                       aux_file)
    adapter = build_adapter(config.replace(aux_checkpoint=aux_file), smpl, model)
    refiner = build_fitter(load_config(common + ["--fit_steps", str(REFINE_STEPS)]), smpl)
    predictor = CheckpointPredictor(model)
    rng = np.random.default_rng(0)
    images = rng.normal(0, 0.5, (BATCH, 3, config.img_size, config.img_size)).astype(np.float32)
    bbox_info = np.zeros((BATCH, 3), np.float32)
    theta, _, _, projected = predictor.run_all(images)
    keypoints = np.concatenate([projected + rng.normal(0, 0.05, projected.shape), np.ones_like(projected[..., :1])],
                               -1).astype(np.float32)
    times = {
        "forward": time_call(lambda: predictor.run_all(images), 3),
        "adapt": time_call(lambda: adapter.adapt(images, bbox_info, keypoints), repeat),
        "refine": time_call(lambda: refiner.fit(theta[:, 3:75], theta[:, 75:], theta[:, :3], keypoints), repeat),
    }
    per_image = {k: v / BATCH for k, v in times.items()}
    print_table(f"Test-time adaptation, ms per image (batch {BATCH}, median), ResNet-50 224 px, 10 iterations, "
                f"{platform.machine()}, {os.cpu_count()} cores",
                ("network forward", f"adaptation, 1 + {ADAPT_STEPS} steps", f"fitting, {REFINE_STEPS} steps",
                 "adaptation / forward", "adaptation / fitting"),
                [(f"{per_image['forward']:.1f}", f"{per_image['adapt']:.1f}", f"{per_image['refine']:.1f}",
                  f"{times['adapt'] / times['forward']:.1f}", f"{times['adapt'] / times['refine']:.1f}")])


if __name__ == "__main__":
    main()
