"""HMR 2.0 with a ViT-B/16 backbone (768 x 12 blocks, the full 6-layer 1024-wide decoder, 256 px square
crops cut to 256 x 192), this project vs the same network in PyTorch eager (tests/reference/torch_hmr2.py,
smplx SMPL), in one run (called by ``bash scripts/run_bench.sh train`` and ``infer``):

- train: one full training step at batch 8 (encoder + discriminator updates, HMR's losses);
- infer: inference per image at batch 1 (network + SMPL), the checkpoint in graph mode vs torch.no_grad.
"""
import sys
import tempfile

import numpy as np

from model_utils.device_adapter import configure_cpu_isa

BATCH, SIDE, MARGIN = 4, 256, 32     # batch 4: a ViT-B step holds ~0.5 GB per block per 4 images here
VIT_B = dict(embed_dim=768, depth=12, num_heads=12)
SIX = np.tile([1.0, 0.0, 0.0, 1.0, 0.0, 0.0], 24)


def _model(path):
    import mindspore as ms
    from HMR import SMPL
    from HMR.heads.iterative import default_mean_params
    from HMR.model import HMR
    ms.set_context(mode=ms.GRAPH_MODE)
    _, shape, cam = default_mean_params()
    return HMR(SMPL(path), pose_head="hmr2", mean_params={"pose": SIX, "shape": shape, "cam": cam}, num_iterations=1,
               backbone="vit_b16", backbone_options=dict(crop=(SIDE, SIDE - 2 * MARGIN), drop_path_rate=0.0),
               column_margin=MARGIN, camera="crop_perspective")


def _mindspore_train_step(path, rng):
    import mindspore as ms
    from tests.benchmarks.bench_train import _step_cell
    step = _step_cell(_model(path))
    keypoints = np.concatenate([rng.uniform(-1, 1, (BATCH, 19, 2)), np.ones((BATCH, 19, 1))], 2)
    joints = np.concatenate([rng.normal(0, 0.3, (BATCH, 14, 3)), np.ones((BATCH, 14, 1))], 2)
    batch = [rng.normal(size=(BATCH, 3, SIDE, SIDE)), keypoints, joints, rng.normal(0, 0.2, (BATCH, 72)),
             rng.normal(size=(BATCH, 10)), np.ones(BATCH), np.ones(BATCH), np.ones(BATCH),
             rng.normal(0, 0.2, (BATCH, 1, 72)), rng.normal(size=(BATCH, 1, 10)),
             rng.random((2, 2, BATCH, 1024))]
    batch = [ms.Tensor(np.asarray(b, np.float32)) for b in batch]
    return lambda: step(*batch).asnumpy()


def _torch_network(path, cocoplus):
    """forward(images) -> rotmats, betas, joints (B, 19, 3), keypoints (B, 19, 2) through HMR 2.0's camera."""
    import smplx
    import torch
    from HMR.heads.iterative import default_mean_params
    from tests.reference.torch_hmr2 import HMR2
    _, shape, cam = default_mean_params()
    network = HMR2(SIX, shape, cam, **VIT_B)
    smpl = smplx.SMPL(path)
    regressor = torch.as_tensor(cocoplus, dtype=torch.float32)

    def forward(images):
        rotmats, betas, cam_crop = network(images)
        out = smpl(betas=betas, body_pose=rotmats[:, 1:], global_orient=rotmats[:, :1], pose2rot=False)
        joints = torch.einsum("kv,bvc->bkc", regressor, out.vertices)
        k = 5000.0 / 256
        t = torch.cat([cam_crop[:, 1:], 2 * k / cam_crop[:, :1]], 1)[:, None]
        placed = joints + t
        return rotmats, betas, joints, 2 * k * placed[:, :, :2] / placed[:, :, 2:]
    return network, forward


def train_rows(path, cocoplus, rounds=1, repeat=2):
    import torch
    from tests.benchmarks.bench_train import _torch_trainer
    from tests.benchmarks.timing import against_torch, interleaved
    rng = np.random.default_rng(0)
    ours = _mindspore_train_step(path, rng)
    network, forward = _torch_network(path, cocoplus)
    network.train()
    images = torch.as_tensor(rng.normal(size=(BATCH, 3, SIDE, SIDE)).astype(np.float32))
    theirs = _torch_trainer(network.parameters(), lambda: forward(images), rng, BATCH)
    times = interleaved({"ours": ours, "torch": theirs}, rounds, repeat)
    return against_torch(f"HMR 2.0 ViT-B/16 training step, batch {BATCH}, {SIDE}x{SIDE - 2 * MARGIN} seen",
                         "this project (graph mode)", times)


def infer_rows(path, cocoplus, rounds=3, repeat=5):
    import mindspore as ms
    import torch
    from HMR.export_net import export_net
    from tests.benchmarks.timing import against_torch, interleaved
    image = np.random.default_rng(1).normal(size=(1, 3, SIDE, SIDE)).astype(np.float32)
    net = export_net(_model(path))
    net.set_train(False)
    tensor = ms.Tensor(image)
    network, forward = _torch_network(path, cocoplus)
    network.eval()
    torch_image = torch.from_numpy(image)

    def theirs():
        with torch.no_grad():
            return forward(torch_image)
    times = interleaved({"ours": lambda: net(tensor)[1].asnumpy(), "torch": theirs}, rounds, repeat)
    return against_torch("HMR 2.0 ViT-B/16 inference with SMPL, batch 1, per image",
                         "checkpoint, graph mode (this project)", times, 1)


def main(kinds=("train", "infer")):
    configure_cpu_isa()
    from src.data.synthetic.body_model import build_body_model
    from src.data.synthetic.write_model import write_body_model
    from tests.benchmarks.timing import print_table
    path = write_body_model(tempfile.mkdtemp(prefix="bench_hmr2_"))
    cocoplus = build_body_model(0)["cocoplus_regressor"]
    for kind in kinds:
        print_table(*(train_rows if kind == "train" else infer_rows)(path, cocoplus))


if __name__ == "__main__":
    main(tuple(sys.argv[1:]) or ("train", "infer"))
