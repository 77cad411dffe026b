"""Training-step speed at batch 8, all in one run (``bash scripts/run_bench.sh train``):

HMR, 224 px, ResNet-50:
(a) the full HMR step of this project (encoder + discriminator updates, SMPL in the graph);
(a2) the same step at amp_level O2 with the dynamic loss scale (float16 encoder and regressor: what
     Ascend and GPU train with; the CPU backend's float16 kernels are slower than its float32 ones);
(b) a bare ResNet-50 classification step in this project (same framework, same encoder);
(c) the same HMR step written in PyTorch eager (tests/reference/torch_hmr.py, smplx SMPL).

CLIFF, 256 x 192 crops with bbox_info, keypoints through the full-image camera:
(d) the CLIFF ResNet-50 step of this project; (e) the CLIFF HRNet-W48 step of this project;
(f) the same CLIFF HRNet-W48 step in PyTorch eager (tests/reference/torch_hrnet.py, smplx SMPL).

HMR 2.0 with ViT-B/16: this project vs PyTorch eager (tests/benchmarks/bench_hmr2.py).

HybrIK with HRNet-W48: this project vs PyTorch eager (tests/benchmarks/bench_hybrik.py).
"""
import os
import platform
import tempfile

import numpy as np

from model_utils.device_adapter import configure_cpu_isa

BATCH, SIDE = 8, 224
CLIFF_CROP = (256, 192)


def _step_cell(model, scaler=None):
    """This project's full training step (encoder + discriminator updates) around ``model``."""
    from mindspore import nn

    from HMR.discriminator import Discriminator
    from src.training.step import DiscriminatorLoss, EncoderLoss, HMRTrainStep
    disc = Discriminator()
    step = HMRTrainStep(EncoderLoss(model, disc, 60.0, 60.0, 60.0, 1.0), DiscriminatorLoss(disc, 1.0),
                        nn.Adam(model.trainable_params(), 1e-5), nn.Adam(disc.trainable_params(), 1e-4),
                        scaler=scaler)
    step.set_train(True)
    return step


def _batch(rng, crop, bbox_info=False):
    """A training batch in ``TRAIN_COLUMNS`` order + the dropout noise (+ CLIFF's bbox_info), as
    MindSpore tensors in the order ``HMRTrainStep`` takes them."""
    import mindspore as ms
    keypoints = np.concatenate([rng.uniform(-1, 1, (BATCH, 19, 2)), np.ones((BATCH, 19, 1))], 2)
    joints = np.concatenate([rng.normal(0, 0.3, (BATCH, 14, 3)), np.ones((BATCH, 14, 1))], 2)
    batch = [rng.normal(size=(BATCH, 3) + crop), keypoints, joints, rng.normal(0, 0.2, (BATCH, 72)),
             rng.normal(size=(BATCH, 10)), np.ones(BATCH), np.ones(BATCH), np.ones(BATCH),
             rng.normal(0, 0.2, (BATCH, 3, 72)), rng.normal(size=(BATCH, 3, 10)), rng.random((3, 2, BATCH, 1024))]
    if bbox_info:
        batch.append(rng.normal(0, 0.5, (BATCH, 3)))
    return [ms.Tensor(np.asarray(b, np.float32)) for b in batch]


def _cliff_steps(model_path, rng):
    """(d) and (e): CLIFF steps with ResNet-50 and HRNet-W48."""
    import mindspore as ms

    from HMR import SMPL
    from HMR.model import HMR
    from HMR.heads.iterative import default_mean_params
    ms.set_context(mode=ms.GRAPH_MODE)
    pose, shape, cam = default_mean_params()
    six = np.tile([1.0, 0.0, 0.0, 1.0, 0.0, 0.0], 24)
    steps = {}
    for name, backbone, width in (("cliff_resnet", "resnet", 64), ("cliff_hrnet", "hrnet", 48)):
        model = HMR(SMPL(model_path), 50, width, "cliff", {"pose": six, "shape": shape, "cam": cam},
                    backbone=backbone, camera="full_frame_crop")
        step, batch = _step_cell(model), _batch(rng, CLIFF_CROP, bbox_info=True)
        steps[name] = lambda step=step, batch=batch: step(*batch).asnumpy()
    return steps


def _mindspore_steps(model_path, rng):
    import mindspore as ms
    from mindspore import nn, ops

    from HMR import SMPL
    from HMR.model import HMR
    from HMR.heads.iterative import default_mean_params

    from src.training.loss_scale import LossScaler

    ms.set_context(mode=ms.GRAPH_MODE)
    pose, shape, cam = default_mean_params()
    theta = {"theta": np.concatenate([cam, pose, shape])}
    model = HMR(SMPL(model_path), 50, 64, "axis_angle", theta)
    step, batch = _step_cell(model), _batch(rng, (SIDE, SIDE))
    half = HMR(SMPL(model_path), 50, 64, "axis_angle", theta).use_mixed_precision("O2")
    half_step = _step_cell(half, LossScaler("dynamic", 1024.0))

    def hmr_step():
        return step(*batch).asnumpy()

    def hmr_o2_step():
        return half_step(*batch).asnumpy()

    from HMR.backbones.resnet import ResNet

    class Classifier(nn.Cell):
        def __init__(self):
            super().__init__()
            self.encoder, self.fc = ResNet(50), nn.Dense(2048, 1000)

        def construct(self, x):
            return self.fc(self.encoder(x))

    class ClassifierStep(nn.Cell):
        def __init__(self, net, optimizer):
            super().__init__(auto_prefix=False)
            self.net, self.optimizer = net, optimizer
            self.loss_fn = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
            self.grad_fn = ms.value_and_grad(self.forward, None, optimizer.parameters)

        def forward(self, x, y):
            return self.loss_fn(self.net(x), y)

        def construct(self, x, y):
            loss, grads = self.grad_fn(x, y)
            return ops.depend(loss, self.optimizer(grads))

    classifier = Classifier()
    classify_step = ClassifierStep(classifier, nn.Adam(classifier.trainable_params(), 1e-4))
    classify_step.set_train(True)
    labels = ms.Tensor(rng.integers(0, 1000, BATCH).astype(np.int32))

    def resnet_step():
        return classify_step(batch[0], labels).asnumpy()

    return hmr_step, hmr_o2_step, resnet_step


def _torch_trainer(parameters, forward, rng, batch=BATCH):
    """A PyTorch eager training step with HMR's losses and discriminator update.

    ``forward()`` -> rotmats (B, 24, 3, 3), betas (B, 10), joints (B, 19, 3), keypoints (B, 19, 2).
    """
    import torch

    from tests.reference.torch_hmr import Discriminator, rodrigues
    disc = Discriminator()
    opt_e = torch.optim.Adam([p for p in parameters if p.requires_grad], 1e-5)
    opt_d = torch.optim.Adam(disc.parameters(), 1e-4)
    t = lambda a: torch.as_tensor(np.asarray(a, np.float32))  # noqa: E731
    kp, joints3d = t(rng.uniform(-1, 1, (batch, 19, 2))), t(rng.normal(0, 0.3, (batch, 14, 3)))
    gt_rot = rodrigues(t(rng.normal(0, 0.2, (batch * 24, 3)))).reshape(batch, 24, 3, 3)
    gt_betas, mocap_betas = t(rng.normal(size=(batch, 10))), t(rng.normal(size=(batch, 10)))
    mocap_rot = rodrigues(t(rng.normal(0, 0.2, (batch * 24, 3)))).reshape(batch, 24, 3, 3)

    def centre(x):
        return x - (x[:, 2:3] + x[:, 3:4]) / 2

    def step():
        rotmats, betas, joints, keypoints = forward()
        loss_kp = (keypoints - kp).abs().mean()
        loss_3d = 0.5 * ((centre(joints[:, :14]) - centre(joints3d)) ** 2).mean()
        loss_smpl = 0.5 * torch.cat([((rotmats - gt_rot) ** 2).reshape(batch, -1), (betas - gt_betas) ** 2], 1).mean()
        loss_adv = ((disc(rotmats, betas) - 1) ** 2).sum(1).mean()
        loss = 60 * (loss_kp + loss_3d + loss_smpl) + loss_adv
        opt_e.zero_grad()
        loss.backward()
        opt_e.step()
        d_loss = ((disc(mocap_rot, mocap_betas) - 1) ** 2).sum(1).mean() + (disc(rotmats.detach(), betas.detach()) ** 2).sum(1).mean()
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        return loss.item()

    return step


def _torch_step(model_path, cocoplus, rng):
    """(c): the HMR step in PyTorch eager."""
    import torch

    from HMR.heads.iterative import default_mean_params
    from tests.reference.torch_hmr import TorchHMR

    pose, shape, cam = default_mean_params()
    model = TorchHMR(model_path, cocoplus, np.concatenate([cam, pose, shape]))
    model.train()
    images = torch.as_tensor(rng.normal(size=(BATCH, 3, SIDE, SIDE)).astype(np.float32))
    return _torch_trainer(model.parameters(), lambda: model(images), rng), torch.get_num_threads()


def _torch_cliff_step(model_path, cocoplus, rng):
    """(f): the CLIFF HRNet-W48 step in PyTorch eager, the same losses as (e)."""
    import smplx
    import torch

    from HMR.heads.iterative import default_mean_params
    from tests.reference.torch_hrnet import CliffHRNet
    from tests.reference.torch_spin import rot6d_to_rotmat

    _, shape, cam = default_mean_params()
    model = CliffHRNet(np.tile([1.0, 0.0, 0.0, 1.0, 0.0, 0.0], 24), shape, cam)
    smpl = smplx.SMPL(model_path)
    regressor = torch.as_tensor(cocoplus, dtype=torch.float32)
    model.train()
    images = torch.as_tensor(rng.normal(size=(BATCH, 3) + CLIFF_CROP).astype(np.float32))
    info = torch.as_tensor(rng.normal(0, 0.5, (BATCH, 3)).astype(np.float32))

    def forward():
        pose6d, betas, cam_crop = model(images, info)
        rotmats = rot6d_to_rotmat(pose6d).reshape(BATCH, 24, 3, 3)
        out = smpl(betas=betas, body_pose=rotmats[:, 1:], global_orient=rotmats[:, :1], pose2rot=False)
        joints = torch.einsum("kv,bvc->bkc", regressor, out.vertices)
        d, r = info[:, None, :2] / 2.8, info[:, 2:3, None] * 0.06 + 0.24      # full-image camera, CLIFF
        s, z = cam_crop[:, None, :1], joints[:, :, 2:]
        return rotmats, betas, joints, s * (joints[:, :, :2] + cam_crop[:, None, 1:] - d * z) / (1 + z * r * s / 2)

    return _torch_trainer(model.parameters(), forward, rng)


def main(rounds=3, repeat=3, tables=("hmr", "cliff", "hmr2", "crowdnet", "hybrik")):
    configure_cpu_isa()
    from src.data.synthetic.body_model import build_body_model
    from src.data.synthetic.write_model import write_body_model
    from tests.benchmarks.timing import print_table

    path = write_body_model(tempfile.mkdtemp(prefix="bench_train_"))
    rng = np.random.default_rng(0)
    if "hmr" in tables:
        _hmr_table(path, rng, rounds, repeat)
    if "cliff" in tables:
        _cliff_table(path, rng)
    if "hmr2" in tables:
        from tests.benchmarks.bench_hmr2 import train_rows
        print_table(*train_rows(path, build_body_model(0)["cocoplus_regressor"]))
    if "crowdnet" in tables:
        from tests.benchmarks import bench_crowdnet
        print_table(*bench_crowdnet.train_rows())
    if "hybrik" in tables:
        from tests.benchmarks import bench_hybrik
        print_table(*bench_hybrik.train_rows(os.path.dirname(path)))


def _hmr_table(path, rng, rounds, repeat):
    from src.data.synthetic.body_model import build_body_model
    from tests.benchmarks.timing import interleaved, print_table
    hmr_step, hmr_o2_step, resnet_step = _mindspore_steps(path, rng)
    torch_step, threads = _torch_step(path, build_body_model(0)["cocoplus_regressor"], rng)
    times = interleaved({"hmr": hmr_step, "hmr_o2": hmr_o2_step, "resnet": resnet_step, "torch": torch_step},
                        rounds, repeat)
    print_table(f"Training step, batch {BATCH}, {SIDE}x{SIDE}, ResNet-50, ms (median), "
                f"{platform.machine()}, {os.cpu_count()} cores, torch threads {threads}",
                ("(a) HMR step, this project", "(a2) the same at amp_level O2 + dynamic loss scale (CPU: not where "
                 "it pays)", "(b) ResNet-50 classification step, this project", "(c) HMR step, PyTorch eager",
                 "(a2)/(a)", "(a)/(b)", "(a)/(c)"),
                [(f"{times['hmr']:.0f}", f"{times['hmr_o2']:.0f}", f"{times['resnet']:.0f}", f"{times['torch']:.0f}",
                  f"{times['hmr_o2'] / times['hmr']:.2f}", f"{times['hmr'] / times['resnet']:.2f}",
                  f"{times['hmr'] / times['torch']:.2f}")])


def _cliff_table(path, rng):
    from src.data.synthetic.body_model import build_body_model
    from tests.benchmarks.timing import interleaved, print_table
    cliff = dict(_cliff_steps(path, rng), torch_hrnet=_torch_cliff_step(path, build_body_model(0)["cocoplus_regressor"],
                                                                         rng))
    times = interleaved(cliff, 1, 2)
    print_table(f"CLIFF training step, batch {BATCH}, {CLIFF_CROP[0]}x{CLIFF_CROP[1]}, ms (median), "
                f"{platform.machine()}, {os.cpu_count()} cores, torch threads {threads}",
                ("(d) CLIFF ResNet-50, this project", "(e) CLIFF HRNet-W48, this project",
                 "(f) CLIFF HRNet-W48, PyTorch eager", "(e)/(d)", "(e)/(f)"),
                [(f"{times['cliff_resnet']:.0f}", f"{times['cliff_hrnet']:.0f}", f"{times['torch_hrnet']:.0f}",
                  f"{times['cliff_hrnet'] / times['cliff_resnet']:.2f}",
                  f"{times['cliff_hrnet'] / times['torch_hrnet']:.2f}")])


if __name__ == "__main__":
    import sys
    main(tables=tuple(sys.argv[1:]) or ("hmr", "cliff", "hmr2", "crowdnet"))
