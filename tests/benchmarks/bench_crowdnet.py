"""HAP's 3D model (3DCrowdNet with a ViT-B/16: 768 x 12 blocks, 256 x 256 crops, 2048-d pose-guided features) training
step, this project vs the same network in PyTorch eager (``tests/reference/torch_crowdnet.py`` in training mode,
smplx SMPL), in one run (called by ``bash scripts/run_bench.sh train``, beside HMR 2.0's ViT-B row).

Both steps: the forward with the 2D pose input, seven L1 terms against fixed targets, backward, an Adam update of
every trainable parameter (VPoser frozen). Batch 4, as HMR 2.0's ViT-B row.
"""
import tempfile

import numpy as np

from model_utils.device_adapter import configure_cpu_isa

BATCH, SIDE = 4, 256


def _inputs(rng):
    images = rng.uniform(0, 1, (BATCH, 3, SIDE, SIDE)).astype(np.float32)
    joints = rng.uniform(8, 56, (BATCH, 30, 2)).astype(np.float32)
    return images, joints, np.ones((BATCH, 30, 1), np.float32)


def _mindspore_step(folder, rng):
    import mindspore as ms
    from mindspore import nn
    from model_utils.config import load_config
    from src.builders import build_model, build_smpl
    from src.data.sources import TRAIN_COLUMNS
    from src.training.crowdnet_step import CrowdNetObjective, CrowdNetTrainStep, keypoint_names
    ms.set_context(mode=ms.GRAPH_MODE)
    config = load_config(["--data_path", folder, "--architecture", "crowdnet", "--pose_head", "vposer", "--backbone",
                          "vit_b16", "--img_size", str(SIDE), "--image_normalization", "unit", "--vit_patch_padding",
                          "2"])
    model = build_model(config, build_smpl(config))
    optimizer = nn.Adam(model.trainable_params(), learning_rate=1e-4)
    step = CrowdNetTrainStep(CrowdNetObjective(model, keypoint_names(model)), optimizer)
    step.set_train(True)
    images, joints, mask = _inputs(rng)
    keypoints = np.concatenate([rng.uniform(-1, 1, (BATCH, 19, 2)), np.ones((BATCH, 19, 1))], 2)
    joints3d = np.concatenate([rng.normal(0, 0.3, (BATCH, 14, 3)), np.ones((BATCH, 14, 1))], 2)
    columns = dict(image=images, keypoints=keypoints, joints3d=joints3d, pose=rng.normal(0, 0.2, (BATCH, 72)),
                   betas=rng.normal(size=(BATCH, 10)), has_smpl=np.ones(BATCH), has_3d=np.ones(BATCH),
                   valid=np.ones(BATCH), mocap_pose=np.zeros((BATCH, 1, 72)), mocap_betas=np.zeros((BATCH, 1, 10)))
    batch = [columns[c] for c in TRAIN_COLUMNS] + [rng.random((1, 1, BATCH, model.train_noise_shape[-1])), joints, mask]
    batch = [ms.Tensor(np.asarray(b, np.float32)) for b in batch]
    return lambda: step(*batch).asnumpy()


def _torch_step(folder, rng):
    import smplx
    import torch
    from tests.reference.torch_crowdnet import Model
    body = smplx.SMPL(f"{folder}/neutral_smpl_with_cocoplus_reg.pkl")
    model = Model(body, np.zeros((30, 6890), np.float32) + 1.0 / 6890, vit_depth=12)
    model.train()
    for parameter in list(model.vposer.parameters()) + list(model.human_model_layer.parameters()):
        parameter.requires_grad = False
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], 1e-4)
    images, joints, mask = (torch.from_numpy(a) for a in _inputs(rng))
    t = lambda *shape: torch.as_tensor(rng.normal(size=shape).astype(np.float32))  # noqa: E731
    targets = {"joint_img": t(BATCH, 15, 3), "joint_proj": t(BATCH, 30, 2), "joint_cam": t(BATCH, 30, 3),
               "smpl_pose": t(BATCH, 72), "smpl_shape": t(BATCH, 10)}

    def step():
        out = model(images, joints, mask)
        loss = sum((out[k] - v).abs().mean() for k, v in targets.items()) + (out["joint_img"] - targets[
            "joint_img"]).abs().mean() + (out["joint_cam"] - targets["joint_cam"]).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()
    return step


def train_rows(rounds=1, repeat=2):
    from src.data.synthetic.write_model import write_body_model
    from tests.benchmarks.timing import against_torch, interleaved
    folder = tempfile.mkdtemp(prefix="bench_crowdnet_")
    write_body_model(folder)
    rng = np.random.default_rng(0)
    times = interleaved({"ours": _mindspore_step(folder, rng), "torch": _torch_step(folder, rng)}, rounds, repeat)
    return against_torch(f"HAP 3D (3DCrowdNet, ViT-B/16) training step, batch {BATCH}, {SIDE}x{SIDE}",
                         "this project (graph mode)", times)


def main():
    configure_cpu_isa()
    from tests.benchmarks.timing import print_table
    print_table(*train_rows())


if __name__ == "__main__":
    main()
