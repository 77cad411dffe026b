"""Shared test set-up: the CPU ISA cap (before MindSpore loads) and the body-model fixtures."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from model_utils.device_adapter import configure_cpu_isa  # noqa: E402

configure_cpu_isa()

import pytest  # noqa: E402


# The slowest files, slowest first (from `run_tests.sh`'s durations report on a 2-core machine). The two
# test processes (xdist, --dist loadfile) take whole files in this order, one more each time a process
# has at most two tests queued. So the first process starts with the main-job file (two tests, about
# 15 min beside the other process) plus the next file in the list: a short one (the layout test), so
# that the other long files go to the second process instead of queuing behind the main job. In one
# process the order changes nothing.
SLOW_FILES = ("tasks/test_demo_learns.py", "unit/network/test_crowdnet.py", "unit/training/test_crowdnet_training.py",
              "tasks/test_meta_entry.py", "unit/test_layout.py", "tasks/test_video.py",
              "tasks/test_hmr2_entry.py", "tasks/test_cliff_entry.py", "unit/training/test_mixed_precision.py",
              "tasks/test_distributed.py", "tasks/test_eval_entry.py", "unit/demo/test_adapt.py",
              "unit/training/test_training.py", "tasks/test_train_entry.py", "tasks/test_photos.py",
              "tasks/test_export_entry.py", "unit/network/test_hybrik_model.py",
              "unit/training/test_hybrik_training.py", "unit/temporal/test_ehgformer.py")


def pytest_collection_modifyitems(items):
    """Run the files of ``SLOW_FILES`` first, in that order; the rest keep their order. (The 3DCrowdNet files run
    early, while their process is small: full-size ResNet-50 / ViT-B models there take ~2 GB at their peak, which a
    process keeps and reuses afterwards.)"""
    def rank(item):
        path = os.path.relpath(str(item.path), os.path.join(ROOT, "tests")).replace(os.sep, "/")
        return SLOW_FILES.index(path) if path in SLOW_FILES else len(SLOW_FILES)
    items.sort(key=rank)


def _seed_mindspore():
    import mindspore as ms
    ms.set_seed(0)


@pytest.fixture(autouse=True, scope="module")
def mindspore_seed_per_file():
    """MindSpore's initialisers draw from its global seed: each file's fixtures start from the same
    state whatever ran before in this process (one process or several take files in other orders)."""
    _seed_mindspore()


@pytest.fixture(autouse=True)
def mindspore_seed_per_test():
    """The same for each test."""
    _seed_mindspore()


@pytest.fixture(autouse=True, scope="module")
def collect_after_each_file():
    """After each file, a full garbage collection (cells sit in reference cycles, which only the rare full collections
    free) and ``mindspore.ms_memory_recycle`` (the graphs compiled by ``@jit`` methods, such as the SMPL layer's, stay
    in a process-wide cache after their cell is gone: ~35 MB each). The compiled cells' own leak is
    ``HMR.graph_call``'s."""
    yield
    import gc
    gc.collect()
    if "mindspore" in sys.modules:
        import mindspore as ms
        ms.ms_memory_recycle()


@pytest.fixture(autouse=True)
def pynative_after_each_test():
    """Entry points called in-process switch to GRAPH_MODE; later tests start from the default."""
    yield
    if "mindspore" in sys.modules:
        import mindspore as ms
        ms.set_context(mode=ms.PYNATIVE_MODE)


@pytest.fixture(scope="session")
def body_model_dir(tmp_path_factory):
    """A folder with the synthetic model written in the HMR_DATA layout (built once)."""
    from src.data.synthetic.write_model import write_body_model
    folder = tmp_path_factory.mktemp("body_model")
    write_body_model(str(folder), seed=0)
    return folder


@pytest.fixture(scope="module")
def smpl(body_model_dir):
    """The synthetic SMPL with its H36M regressor (the temporal refiners'); a file may define its own."""
    from HMR import SMPL
    return SMPL(str(body_model_dir / "neutral_smpl_with_cocoplus_reg.pkl"),
                extra_regressors={"h36m": str(body_model_dir / "J_regressor_h36m.npy")})


@pytest.fixture(scope="session")
def body_model_pkl(body_model_dir):
    return str(body_model_dir / "neutral_smpl_with_cocoplus_reg.pkl")


@pytest.fixture(scope="session")
def body_model_arrays():
    """The synthetic model as dense numpy arrays (the builder's own output)."""
    from src.data.synthetic.body_model import build_body_model
    return build_body_model(seed=0)


TINY_SIZES = {"3d_train": 24, "2d_train": 8, "eval": 8, "mocap": 64, "frames_train": 8, "frames_eval": 5, "seq_train": 2,
              "seq_eval": 1, "seq_length": 4}


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory):
    """An HMR_DATA folder with the synthetic body model and tiny rendered datasets."""
    from HMR import SMPL
    from src.data.synthetic.dataset import write_synthetic_datasets
    from src.data.synthetic.write_model import write_body_model
    folder = tmp_path_factory.mktemp("HMR_DATA")
    pkl = write_body_model(str(folder), seed=0)
    smpl = SMPL(pkl, extra_regressors={"h36m": str(folder / "J_regressor_h36m.npy")})
    write_synthetic_datasets(str(folder), smpl, seed=0, sizes=TINY_SIZES, workers=1)
    return folder


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_data_dir, tmp_path_factory):
    """``tiny_checkpoint(pose_head="axis_angle")`` -> (config, checkpoint path): ``tiny_config``'s HMR
    trained 2 steps from seed 0, built once per session for each pose head and shared by the tests
    that only need some trained weights."""
    built = {}

    def get(pose_head="axis_angle"):
        if pose_head not in built:
            import mindspore as ms
            from src.training.loop import train
            config = tiny_config(tiny_data_dir, tmp_path_factory.mktemp(f"tiny_{pose_head}"), "--epochs", "1",
                                 "--steps_per_epoch", "2", "--save_every", "2", "--pose_head", pose_head)
            ms.set_seed(0)
            built[pose_head] = config, train(config)["checkpoint"]
        return built[pose_head]
    return get


def tiny_config(data_dir, output_dir, *extra):
    """The project config shrunk for tests: tiny encoder, 64-pixel crops, batch 4."""
    from model_utils.config import load_config
    return load_config(["--data_path", str(data_dir), "--output_path", str(output_dir), "--backbone_depth", "18",
                        "--backbone_width", "8", "--img_size", "64", "--batch_size", "4", "--num_workers", "1",
                        "--progress_bar", "false", "--encoder_lr", "1e-3", *extra])


_EXPORT_NETS = {}


def checkpoint_export_net(config, checkpoint):
    """The export net (``HMR.export_net.export_net``: the graph export.py writes) of ``config``'s model
    with ``checkpoint``'s weights, built once per checkpoint in this process: the reference the
    exported graphs are compared with."""
    if checkpoint not in _EXPORT_NETS:
        from HMR.export_net import export_net
        from src.builders import build_model, build_smpl
        from src.checkpoints import load_model_weights
        model = build_model(config, build_smpl(config))
        load_model_weights(checkpoint, model)
        _EXPORT_NETS[checkpoint] = export_net(model)
    net = _EXPORT_NETS[checkpoint]
    net.set_train(False)
    return net


def first_train_batch(parts, config, with_noise=False):
    """The first training batch of ``build_training``'s source as the step's inputs (+ its dropout
    noise (I, 2, B, H))."""
    import numpy as np
    import mindspore as ms
    from src.data.sources import TRAIN_COLUMNS
    source = parts["source"]
    columns = [np.stack(c) for c in zip(*[source[p] for p in range(config.batch_size)])]
    inputs = [ms.Tensor(c) for c in columns[:len(TRAIN_COLUMNS)]]
    return (inputs, ms.Tensor(np.ascontiguousarray(columns[-1].transpose(1, 2, 0, 3)))) if with_noise else inputs


def stopped_copy(run_folder, step, copy_folder):
    """``copy_folder`` as a run stopped at ``step`` leaves it, taken from the uninterrupted run in
    ``run_folder``: its checkpoint of that step, its config and the log lines of the steps before.
    Resuming it replays the uninterrupted run's second part without a second run of the first
    (the kill itself is tested on train.py and the main job)."""
    import json
    import shutil
    os.makedirs(copy_folder)
    for name in (f"hmr-step{step:08d}.ckpt", "config.yaml"):
        shutil.copy(os.path.join(run_folder, name), os.path.join(copy_folder, name))
    with open(os.path.join(run_folder, "train_log.jsonl"), encoding="utf-8") as source:
        lines = [line for line in source if json.loads(line)["step"] < step]
    with open(os.path.join(copy_folder, "train_log.jsonl"), "w", encoding="utf-8") as target:
        target.writelines(lines)
    return copy_folder


def kill_at_checkpoint(command, folder, prefix, env, timeout=900):
    """Start ``command``, SIGKILL it as soon as a file starting with ``prefix`` appears in ``folder``;
    returns the exit code (``-SIGKILL`` unless the run ended first)."""
    import signal
    import subprocess
    import time
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if os.path.isdir(folder) and any(f.startswith(prefix) for f in os.listdir(folder)):
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    return proc.wait(60)
