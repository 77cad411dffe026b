"""A model family added from outside the project: a head with its own pose parameterisation
(unit quaternions) and its own extra graph input (the crop's box in its image), declared here and
registered at run time, goes through a training step, evaluation, ONNX export and the image demo
without an edit to any project file (``README.md``, "Adding a model")."""
import json

import numpy as np
import pytest

TOY = "toy_quaternion"
BOX_INPUT = "crop_box"
STEPS = 2


def crop_box(frame):
    """The extra input: box centre relative to the image centre and box side, both over the image width
    and height, (..., 4) from frames (..., 6) (``src/data/frame.py``: cx, cy, side, H, W, f)."""
    frame = np.asarray(frame, np.float64)
    height, width = frame[..., 3], frame[..., 4]
    return np.stack([frame[..., 0] / width - 0.5, frame[..., 1] / height - 0.5, frame[..., 2] / width,
                     frame[..., 2] / height], -1).astype(np.float32)


def _quaternion_head_class():
    """The head, defined on first use (MindSpore is imported by the test, not at collection)."""
    from mindspore import Parameter, Tensor, nn, ops
    from mindspore.common.initializer import Normal
    from scipy.spatial.transform import Rotation

    from HMR.geometry import rotmat_to_axis_angle

    class QuaternionDecoder(nn.Cell):
        """24 quaternions (w, x, y, z) (N, 96), normalised -> rotation matrices and axis-angle."""

        def rotation_matrices(self, pose_params):
            q = pose_params.reshape(-1, 24, 4)
            q = q / ops.sqrt(ops.sum(q * q, -1, keepdim=True))
            w, x, y, z = q[..., 0:1], q[..., 1:2], q[..., 2:3], q[..., 3:4]
            rows = [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
                    2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
                    2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]
            return ops.concat(rows, -1).reshape(-1, 24, 3, 3)

        def to_rotations(self, pose_params):
            rotmats = self.rotation_matrices(pose_params)
            return rotmat_to_axis_angle(rotmats).reshape(-1, 72), rotmats

    class QuaternionHead(nn.Cell):
        """features (B, F) and the crop box (B, 4) -> cam (B, 3), pose as 24 quaternions (B, 96), betas (B, 10);
        one step from the mean, no dropout."""

        def __init__(self, feature_dim, mean_params):
            super().__init__()
            xyzw = Rotation.from_matrix(mean_params["rotmats"]).as_quat()
            wxyz = np.concatenate([xyzw[:, 3:], xyzw[:, :3]], 1).reshape(96)
            self.init = Parameter(Tensor(np.concatenate([np.asarray(mean_params["cam"], np.float32), wxyz,
                                                         np.asarray(mean_params["shape"])]).astype(np.float32)[None]),
                                  name="init", requires_grad=False)
            self.fc = nn.Dense(feature_dim + 4, 3 + 96 + 10, weight_init=Normal(0.01))
            self.num_iterations = 1

        @classmethod
        def from_mean_params(cls, feature_dim, mean_params, num_iterations=1, train_mean_params=True):
            return cls(feature_dim, mean_params)

        @staticmethod
        def pose_decoder():
            return QuaternionDecoder()

        def construct(self, features, noise=None, fast=None, *extra):
            theta = self.init + self.fc(ops.concat([features, extra[0]], 1))
            return theta[:, :3], theta[:, 3:99], theta[:, 99:], theta[:, 3:99], theta[:, 99:]

    return QuaternionHead


@pytest.fixture(scope="module")
def toy_registered():
    """The toy family in the registries for this file's tests, removed afterwards."""
    from HMR.architectures import ARCHITECTURES, ArchitectureSpec, ExtraInput
    from HMR.heads import HEADS
    from src.data.extra_inputs import PROVIDERS
    HEADS.register(TOY, _quaternion_head_class().from_mean_params)
    PROVIDERS.register(BOX_INPUT, crop_box)
    ARCHITECTURES.register("toy", ArchitectureSpec(heads={"quaternion": TOY}, inputs=(ExtraInput(BOX_INPUT, (4,)),)))
    yield
    for registry, name in ((ARCHITECTURES, "toy"), (HEADS, TOY), (PROVIDERS, BOX_INPUT)):
        registry.unregister(name)


def _config(data, out, *extra):
    from conftest import tiny_config
    return tiny_config(data, out, "--architecture", "toy", "--pose_head", "quaternion", "--regressor_iterations", "1",
                       "--eval_batch_size", "4", *extra)


@pytest.fixture(scope="module")
def trained(toy_registered, tiny_data_dir, tmp_path_factory):
    import mindspore as ms
    from src.training.loop import train
    config = _config(tiny_data_dir, tmp_path_factory.mktemp("toy"), "--epochs", "1", "--steps_per_epoch", str(STEPS),
                     "--save_every", str(STEPS))
    ms.set_seed(0)
    return config, train(config)


def test_toy_architecture_trains_and_evaluates(trained):
    from src.builders import build_smpl
    from src.checkpoints import list_checkpoints
    from src.evaluation.runner import evaluate_from_config
    config, result = trained
    assert result["steps"] == STEPS and all(np.isfinite(v) for v in result["last_losses"].values())
    assert [step for step, _ in list_checkpoints(config.output_path + "/train")] == [STEPS]
    summary = evaluate_from_config(config.replace(checkpoint_file_path=result["checkpoint"]), build_smpl(config))
    assert summary["num_samples"] == 8 and np.isfinite(summary["mpjpe"]) and summary["mpjpe"] > 0


def test_toy_architecture_exports_onnx_with_its_extra_input(trained, tmp_path):
    """The ONNX graph takes images and the crop box and returns what the checkpoint's model returns; the box
    reaches the head."""
    from src.builders import build_eval_source, build_smpl
    from src.data.pipeline import create_eval_dataset
    from src.data.test_sets import get_protocol, protocol_file
    from src.deployment.export import export_model
    from src.inference.loading import load_model
    from src.inference.predictors import CheckpointPredictor, OnnxPredictor
    config, result = trained
    config = config.replace(checkpoint_file_path=result["checkpoint"], file_format="ONNX", export_batch_size=0)
    model = load_model(config, build_smpl(config))
    path = export_model(config, model, str(tmp_path / "toy"))
    info = json.load(open(path + ".json", encoding="utf-8"))
    assert info["inputs"] == ["images", BOX_INPUT] and info["architecture"] == "toy"
    source = build_eval_source(config, protocol_file(get_protocol(config.dataset), config.data_path))
    batch = dict(zip(source.columns, next(create_eval_dataset(source, 3, 1).create_tuple_iterator(output_numpy=True))))
    assert batch[BOX_INPUT].shape == (3, 4) and np.abs(batch[BOX_INPUT]).sum() > 0
    graph, network = OnnxPredictor(path), CheckpointPredictor(model)
    assert graph.input_names == ["images", BOX_INPUT]
    got = graph.run_all(batch["image"], batch[BOX_INPUT])
    want = network.run_all(batch["image"], batch[BOX_INPUT])
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)
    moved = graph.run_all(batch["image"], batch[BOX_INPUT] + 0.5)[0]
    assert np.abs(moved - got[0]).max() > 1e-4                                      # the box is an input


def test_toy_architecture_runs_the_image_demo(trained, tmp_path):
    """demo's image job with the toy checkpoint and a given box: the mesh and the pose it writes are the
    model's for that crop and box."""
    import cv2
    from src.builders import build_smpl
    from src.demo.image_demo import run_image_demo
    config, result = trained
    image = (np.random.default_rng(0).random((120, 100, 3)) * 255).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "person.png"), image)
    config = config.replace(checkpoint_file_path=result["checkpoint"], img=str(tmp_path / "person.png"),
                            out_folder=str(tmp_path / "out"), bbox="20,10,50,90")
    written = run_image_demo(config, build_smpl(config))["written"]
    assert len(written) == 1 and {"npz", "obj", "json", "overlay"} <= set(written[0])
    with np.load(written[0]["npz"]) as out:
        pose, vertices = out["pose"], out["vertices"]
    assert pose.shape == (72,) and vertices.shape == (6890, 3) and np.isfinite(vertices).all()
    other = run_image_demo(config.replace(out_folder=str(tmp_path / "other"), bbox="30,10,50,90"),
                           build_smpl(config))["written"]
    with np.load(other[0]["npz"]) as out:
        assert np.abs(out["pose"] - pose).max() > 1e-6                         # the box reached the head
