"""HybrIK with HRNet-W48 (its released model: 29 x 64 heatmap volumes at 64 x 64, 256 px crops), this project vs
the PyTorch mirror of ``HRNetSMPLCam`` (tests/reference/torch_hybrik_model.py, smplx SMPL), in one run (called by
``bash scripts/run_bench.sh train`` and ``infer``):

- train: one training step at batch 4 (HybrIK's loss: Laplace on uvd, betas, rotations, twists, camera scale; the
  naive IK; per-parameter gradient clipping; Adam), targets random;
- infer: inference per image at batch 1 (network, ``update_scale``, the inference IK, SMPL), the checkpoint in
  graph mode vs torch.no_grad.
"""
import os
import sys
import tempfile

import numpy as np

from model_utils.device_adapter import configure_cpu_isa

BATCH, SIDE = 4, 256
BOXES = np.array([[40.0, 20.0, 440.0, 420.0]], np.float32)
CENTRES = np.array([[320.0, 240.0]], np.float32)


def _model(folder):
    import mindspore as ms
    from HMR import SMPL
    from HMR.hybrik import HybrIKModel
    ms.set_context(mode=ms.GRAPH_MODE)
    smpl = SMPL(os.path.join(folder, "neutral_smpl_with_cocoplus_reg.pkl"),
                extra_regressors={"h36m": os.path.join(folder, "J_regressor_h36m.npy")})
    return HybrIKModel(smpl, "hybrik_hrnet", {"width": 48}, {"shape": np.zeros(10, np.float32)})


def _torch_model(folder):
    import smplx
    import torch
    from tests.reference.torch_hybrik_model import HRNetSMPLCam
    model = HRNetSMPLCam(np.zeros(10, np.float32))
    regressor = torch.tensor(np.load(os.path.join(folder, "J_regressor_h36m.npy")), dtype=torch.float32)
    model.attach_body(smplx.SMPL(os.path.join(folder, "neutral_smpl_with_cocoplus_reg.pkl")), regressor)
    return model


def _mindspore_train_step(folder, rng):
    import mindspore as ms
    from mindspore import nn
    from src.training.hybrik_step import HybrIKObjective, HybrIKTrainStep
    model = _model(folder)
    step = HybrIKTrainStep(HybrIKObjective(model), nn.Adam(model.trainable_params(), 1e-3))
    step.set_train(True)
    keypoints = np.concatenate([rng.uniform(-0.8, 0.8, (BATCH, 19, 2)), np.ones((BATCH, 19, 1))], 2)
    joints = np.concatenate([rng.normal(0, 0.3, (BATCH, 14, 3)), np.ones((BATCH, 14, 1))], 2)
    batch = [rng.normal(size=(BATCH, 3, SIDE, SIDE)), keypoints, joints, rng.normal(0, 0.2, (BATCH, 72)),
             rng.normal(size=(BATCH, 10)), np.ones(BATCH), np.ones(BATCH), np.ones(BATCH),
             np.zeros((BATCH, 1, 72)), np.zeros((BATCH, 1, 10)), np.zeros((1, 2, BATCH, 1024)),
             np.repeat(BOXES, BATCH, 0), np.repeat(CENTRES, BATCH, 0)]
    batch = [ms.Tensor(np.asarray(b, np.float32)) for b in batch]
    return lambda: step(*batch).asnumpy()


def _torch_train_step(folder, rng):
    """The mirror's training forward (no scale re-fit, the naive IK) and HybrIK's loss, then per-parameter
    clipping and Adam."""
    import torch
    model = _torch_model(folder)
    model.train()
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(parameters, 1e-3)
    t = lambda a: torch.as_tensor(np.asarray(a, np.float32))  # noqa: E731
    images = t(rng.normal(size=(BATCH, 3, SIDE, SIDE)))
    boxes, centres = t(np.repeat(BOXES, BATCH, 0)), t(np.repeat(CENTRES, BATCH, 0))
    uvd, betas = t(rng.uniform(-0.4, 0.4, (BATCH, 29, 3))), t(rng.normal(size=(BATCH, 10)))
    rotmats, twist = t(np.tile(np.eye(3), (BATCH, 24, 1, 1)).reshape(BATCH, -1)), t(rng.normal(size=(BATCH, 23, 2)))
    scale = t(np.full((BATCH, 1), 0.9))

    def step():
        out, features = model.preact(images)
        pred_uvd, _ = model.integral(model.heatmaps(out, None))
        pred_shape, pred_phi, pred_camera, sigma = model.heads(features)
        result = model.finish(pred_uvd, pred_shape, pred_phi, pred_camera[:, :1].unsqueeze(1), boxes, centres,
                              naive=True)
        laplace = (torch.log(sigma / 0.5) + (pred_uvd - uvd).abs() / (np.sqrt(2.0) * sigma + 1e-5)).mean()
        loss = (laplace + ((result["pred_shape"] - betas) ** 2).mean()
                + 0.01 * ((result["pred_theta_mats"] - rotmats) ** 2).mean() + ((pred_phi - twist) ** 2).mean()
                + ((result["cam_scale"] - scale) ** 2).mean())
        optimizer.zero_grad()
        loss.backward()
        for parameter in parameters:
            torch.nn.utils.clip_grad_norm_(parameter, 5.0)
        optimizer.step()
        return loss.item()
    return step


def train_rows(folder, rounds=1, repeat=2):
    from tests.benchmarks.timing import against_torch, interleaved
    rng = np.random.default_rng(0)
    times = interleaved({"ours": _mindspore_train_step(folder, rng), "torch": _torch_train_step(folder, rng)},
                        rounds, repeat)
    return against_torch(f"HybrIK HRNet-W48 training step, batch {BATCH}, {SIDE}x{SIDE}", "this project (graph mode)",
                         times)


def infer_rows(folder, rounds=3, repeat=3):
    import mindspore as ms
    import torch
    from HMR.export_net import export_net
    from tests.benchmarks.timing import against_torch, interleaved
    image = np.random.default_rng(1).normal(size=(1, 3, SIDE, SIDE)).astype(np.float32)
    net = export_net(_model(folder), "hybrik_seed")
    net.set_train(False)
    inputs = [ms.Tensor(a) for a in (image, BOXES, CENTRES)]
    model = _torch_model(folder).eval()
    torch_inputs = [torch.from_numpy(a) for a in (image, BOXES, CENTRES)]

    def theirs():
        with torch.no_grad():
            return model(torch_inputs[0], False, *torch_inputs[1:])["pred_vertices"].numpy()
    times = interleaved({"ours": lambda: net(*inputs)[7].asnumpy(), "torch": theirs}, rounds, repeat)
    return against_torch("HybrIK HRNet-W48 inference (update_scale, inference IK, SMPL), batch 1, per image",
                         "checkpoint, graph mode (this project)", times)


def main(kinds=("train", "infer")):
    configure_cpu_isa()
    from src.data.synthetic.write_model import write_body_model
    from tests.benchmarks.timing import print_table
    folder = tempfile.mkdtemp(prefix="bench_hybrik_")
    write_body_model(folder)
    for kind in kinds:
        print_table(*(train_rows if kind == "train" else infer_rows)(folder))


if __name__ == "__main__":
    main(tuple(sys.argv[1:]) or ("train", "infer"))
