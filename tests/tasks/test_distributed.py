"""Data-parallel training: the rank-table launcher's environment, and 2 msrun CPU workers (stopped
and resumed; and as two nodes of one worker each) whose weights equal one process trained on the union of their
batches."""
import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECORDER = """import json, os, sys, time
out = os.environ["RECORD_DIR"]
with open(os.path.join(out, "rank_%s.json" % os.environ["RANK_ID"]), "w") as handle:
    json.dump({"env": dict(os.environ), "argv": sys.argv[1:], "cwd": os.getcwd(), "pid": os.getpid()}, handle)
print("recorded rank", os.environ["RANK_ID"])
time.sleep(float(os.environ.get("RECORD_SLEEP", "0")))
"""


def _rank_table(path):
    table = {"version": "1.0", "server_count": "1", "status": "completed",
             "server_list": [{"server_id": "10.0.0.7", "device": [
                 {"device_id": "4", "device_ip": "192.98.92.4", "rank_id": "0"},
                 {"device_id": "6", "device_ip": "192.98.92.6", "rank_id": "1"}]}]}
    path.write_text(json.dumps(table))
    return path


def _launch(tmp_path, sleep="0"):
    recorder = tmp_path / "record.py"
    recorder.write_text(RECORDER)
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "records").mkdir(exist_ok=True)
    env = dict(os.environ, HMR_TRAIN_COMMAND=f"{sys.executable} {recorder}", RECORD_DIR=str(tmp_path / "records"),
               RECORD_SLEEP=sleep)
    return subprocess.Popen(["bash", "scripts/run_distributed_train.sh", str(_rank_table(tmp_path / "hccl_2p.json")),
                             str(tmp_path / "data"), "--output_path", str(tmp_path / "out"), "--batch_size", "8"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_rank_table_gives_each_process_its_environment(tmp_path):
    proc = _launch(tmp_path)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    for rank, device in ((0, "4"), (1, "6")):
        record = json.loads((tmp_path / "records" / f"rank_{rank}.json").read_text())
        env = record["env"]
        assert env["RANK_TABLE_FILE"] == str(tmp_path / "hccl_2p.json") and env["RANK_SIZE"] == "2"
        assert env["RANK_ID"] == str(rank) and env["DEVICE_ID"] == device
        argv = record["argv"]
        assert argv[argv.index("--distributed") + 1] == "true"
        assert argv[argv.index("--data_path") + 1] == str(tmp_path / "data")
        assert argv[argv.index("--device_target") + 1] == "Ascend" and argv[-2:] == ["--batch_size", "8"]
        assert record["cwd"] == str(tmp_path / "out" / f"rank_{rank}")        # per-rank folder, no code copied
        assert f"recorded rank {rank}" in (tmp_path / "out" / f"rank_{rank}" / "log.txt").read_text()


def test_interrupting_the_launcher_stops_every_rank(tmp_path):
    proc = _launch(tmp_path, sleep="120")
    deadline = time.time() + 120
    while time.time() < deadline and len(os.listdir(tmp_path / "records")) < 2:
        time.sleep(0.2)
    pids = [json.loads((tmp_path / "records" / f"rank_{r}.json").read_text())["pid"] for r in (0, 1)]
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    assert proc.returncode == 130
    time.sleep(0.5)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_bad_rank_table_is_one_line_error(tmp_path):
    (tmp_path / "bad.json").write_text('{"server_list": [{"server_id": "a", "device": [{"rank_id": "1"}]}]}')
    (tmp_path / "data").mkdir()
    result = subprocess.run(["bash", "scripts/run_distributed_train.sh", str(tmp_path / "bad.json"),
                             str(tmp_path / "data")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: rank table {tmp_path}/bad.json: expected")


STEPS = 3
TINY = ["--backbone_depth", "18", "--backbone_width", "8", "--img_size", "64", "--num_workers", "1",
        "--progress_bar", "false", "--epochs", "1", "--steps_per_epoch", str(STEPS), "--save_every", str(STEPS),
        "--log_every", "1", "--freeze_batchnorm", "true", "--encoder_lr", "1e-4", "--flip_prob", "0.5",
        "--train_datasets", "synthetic/all_visible.npz", "--train_dataset_ratios", "1"]


def _weights(path):
    import mindspore as ms
    return {k: v.asnumpy() for k, v in ms.load_checkpoint(str(path)).items() if k.startswith(("model.", "disc."))}


@pytest.fixture(scope="module")
def union_run(tiny_data_dir, tmp_path_factory):
    """One process trained STEPS steps on batches of 4, the union of two ranks' batches of 2: {"data": its data
    folder, "weights": its step-STEPS checkpoint's model and discriminator weights}. Every keypoint is visible:
    the masked loss means then have equal denominators on both ranks, so the mean of the two ranks' gradients
    is exactly the gradient over the union."""
    data = dict(np.load(tiny_data_dir / "synthetic" / "synthetic_3d_train.npz"))
    data["part"][:, :, 2] = 1.0
    np.savez(tiny_data_dir / "synthetic" / "all_visible.npz", **data)
    out = tmp_path_factory.mktemp("single")
    single = subprocess.run([sys.executable, "train.py", "--data_path", str(tiny_data_dir), "--output_path", str(out),
                             *TINY, "--batch_size", "4"], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                            capture_output=True, text=True, timeout=1200)
    assert single.returncode == 0, single.stderr[-2000:]
    return {"data": tiny_data_dir, "weights": _weights(out / "train" / f"hmr-step{STEPS:08d}.ckpt")}


def test_two_msrun_workers_equal_one_process_over_their_union(union_run, tmp_path):
    tiny_data_dir = union_run["data"]
    env = dict(os.environ, PYTHONPATH=ROOT)
    logs = tmp_path / "dp" / "msrun_logs"
    # interrupted after 2 steps, then resumed: the distributed run continues like a single-device one
    for extra in (["--stop_after_steps", "2"], ["--resume", "true"]):
        dist = subprocess.run(["bash", "scripts/run_distributed_train.sh", "--msrun", "2", str(tiny_data_dir),
                               "--output_path", str(tmp_path / "dp"), *TINY, "--batch_size", "2", *extra], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=1200)
        assert dist.returncode == 0, dist.stderr[-2000:] + "".join(p.read_text()[-2000:]
                                                                   for p in logs.glob("worker_*.log"))
    assert (tmp_path / "dp" / "train" / "rank_1" / "hmr-step00000002.ckpt").is_file() is False   # newest only
    assert "resumed from" in (logs / "worker_0.log").read_text()
    name = f"hmr-step{STEPS:08d}.ckpt"
    rank0, rank1 = _weights(tmp_path / "dp" / "train" / name), _weights(tmp_path / "dp" / "train" / "rank_1" / name)
    reference = union_run["weights"]
    assert rank0.keys() == rank1.keys() == reference.keys() and any(k.startswith("disc.") for k in rank0)
    for key in rank0:
        np.testing.assert_array_equal(rank0[key], rank1[key], err_msg=key)          # identical on both ranks
        np.testing.assert_allclose(rank0[key], reference[key], atol=1e-5, err_msg=key)
    # logs and the step log from rank 0 only; the ranks drew disjoint samples
    steps = [json.loads(line)["step"] for line in (tmp_path / "dp" / "train" / "train_log.jsonl").open()]
    assert steps == list(range(STEPS))
    assert "step 2 epoch 0" in (logs / "worker_0.log").read_text()
    assert "step 2 epoch 0" not in (logs / "worker_1.log").read_text()
    from src.data.sources import TrainSource
    seen = []
    for rank in (0, 1):
        source = TrainSource([str(tiny_data_dir / "synthetic" / "all_visible.npz")], [1.0],
                             str(tiny_data_dir / "synthetic" / "mocap.npz"), 2, STEPS, 64, "hmr", range(19),
                             rank=rank, world_size=2)
        seen.append({source.locate(p)[1] for p in range(2 * STEPS)})
    assert not seen[0] & seen[1]
    # and the weights did move: compare with the initial ones (same seed, same construction)
    import mindspore as ms
    from conftest import tiny_config
    from src.checkpoints import structural_parameters
    from src.training.loop import build_training
    ms.set_seed(0)
    initial = build_training(tiny_config(tiny_data_dir, tmp_path / "init", *TINY, "--batch_size", "2"))
    start = {f"model.{k}": v.asnumpy() for k, v in structural_parameters(initial["model"]).items()}
    assert np.abs(rank0["model.encoder.conv1.weight"] - start["model.encoder.conv1.weight"]).max() > 5e-5


@contextlib.contextmanager
def second_host():
    """A network namespace joined to this one by a veth pair: -> (this side's address, the command prefix that runs
    a process on the other side). msrun starts a scheduler wherever ``--master_addr`` is a local address, so two
    nodes on one machine need the second node in a namespace where the master's address is not its own. Skips
    the test where namespaces cannot be made (not root, no iproute2)."""
    tag = f"hmr{os.getpid() % 100000}"
    subnet = f"10.231.{os.getpid() % 250}"
    commands = [f"ip netns add {tag}", f"ip link add {tag}a type veth peer name {tag}b",
                f"ip link set {tag}b netns {tag}", f"ip addr add {subnet}.1/24 dev {tag}a", f"ip link set {tag}a up",
                f"ip netns exec {tag} ip addr add {subnet}.2/24 dev {tag}b", f"ip netns exec {tag} ip link set {tag}b up",
                f"ip netns exec {tag} ip link set lo up"]
    try:
        for command in commands:
            made = subprocess.run(command.split(), capture_output=True, text=True)
            if made.returncode != 0:
                pytest.skip(f"no network namespace here ({command}: {made.stderr.strip()})")
        yield f"{subnet}.1", ["ip", "netns", "exec", tag]
    finally:
        subprocess.run(["ip", "netns", "del", tag], capture_output=True)
        subprocess.run(["ip", "link", "del", f"{tag}a"], capture_output=True)


def test_two_msrun_nodes_equal_one_process_over_their_union(union_run, tmp_path):
    """``--nodes 2`` with one worker each, node 1 on a second network host (``second_host``): both ranks end with
    the weights of one process trained on the union of their batches; node 0 alone runs the scheduler."""
    out, port = tmp_path / "nodes", str(20000 + os.getpid() % 20000)
    with second_host() as (master, on_second_host):
        launches = [prefix + ["bash", "scripts/run_distributed_train.sh", "--msrun", "1", "--nodes", "2", "--node_rank",
                              str(rank), "--master_addr", master, "--master_port", port, str(union_run["data"]),
                              "--output_path", str(out), *TINY, "--batch_size", "2"]
                    for rank, prefix in ((0, []), (1, on_second_host))]
        nodes = [subprocess.Popen(command, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) for command in launches]
        outputs = [node.communicate(timeout=1200)[0] for node in nodes]
    logs = "".join(p.read_text()[-2000:] for p in (out / "msrun_logs").glob("node_*/*.log"))
    assert [node.returncode for node in nodes] == [0, 0], outputs[0][-1000:] + outputs[1][-1000:] + logs
    assert (out / "msrun_logs" / "node_0" / "scheduler.log").is_file()
    assert not (out / "msrun_logs" / "node_1" / "scheduler.log").exists()
    name = f"hmr-step{STEPS:08d}.ckpt"
    rank0, rank1 = _weights(out / "train" / name), _weights(out / "train" / "rank_1" / name)
    assert rank0.keys() == rank1.keys() == union_run["weights"].keys()
    for key in rank0:
        np.testing.assert_array_equal(rank0[key], rank1[key], err_msg=key)
        np.testing.assert_allclose(rank0[key], union_run["weights"][key], atol=1e-5, err_msg=key)


def test_meta_training_on_two_msrun_workers_keeps_identical_weights(tiny_data_dir, tmp_path):
    """Meta-HMR's step (inner SGD, outer Adam with all-reduced gradients) on 2 ranks; the auxiliary
    network is the starting checkpoint (positional CKPT)."""
    import mindspore as ms
    from conftest import tiny_config
    from src.builders import build_model, build_smpl
    from src.checkpoints import structural_parameters
    tiny = TINY[:-4] + ["--train_datasets", "synthetic/synthetic_3d_train.npz", "--train_dataset_ratios", "1"]
    config = tiny_config(tiny_data_dir, tmp_path, *tiny, "--pose_head", "rot6d")
    start_file = str(tmp_path / "start.ckpt")
    ms.set_seed(3)
    ms.save_checkpoint([{"name": k, "data": p}
                        for k, p in structural_parameters(build_model(config, build_smpl(config))).items()], start_file)
    logs = tmp_path / "meta" / "msrun_logs"
    dist = subprocess.run(["bash", "scripts/run_distributed_train.sh", "--msrun", "2", str(tiny_data_dir), start_file,
                           "--output_path", str(tmp_path / "meta"), *tiny, "--batch_size", "2", "--meta", "true",
                           "--pose_head", "rot6d"], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                          capture_output=True, text=True, timeout=1200)
    assert dist.returncode == 0, dist.stderr[-2000:] + "".join(p.read_text()[-2000:] for p in logs.glob("worker_*.log"))
    name = f"hmr-step{STEPS:08d}.ckpt"
    rank0 = {k: v.asnumpy() for k, v in ms.load_checkpoint(str(tmp_path / "meta" / "train" / name)).items()
             if k.startswith(("model.", "aux.", "opt_e."))}
    rank1 = {k: v.asnumpy() for k, v in ms.load_checkpoint(str(tmp_path / "meta" / "train" / "rank_1" / name)).items()
             if k.startswith(("model.", "aux.", "opt_e."))}
    assert rank0.keys() == rank1.keys() and any(k.startswith("aux.") for k in rank0)
    for key in rank0:
        np.testing.assert_array_equal(rank0[key], rank1[key], err_msg=key)
    start = {k: v.asnumpy() for k, v in ms.load_checkpoint(start_file).items()}
    assert np.abs(rank0["model.regressor.fc1.weight"] - start["regressor.fc1.weight"]).max() > 1e-6
    np.testing.assert_array_equal(rank0["aux.regressor.fc1.weight"], start["regressor.fc1.weight"])
    losses = [json.loads(line) for line in (tmp_path / "meta" / "train" / "train_log.jsonl").open()]
    assert [r["step"] for r in losses] == list(range(STEPS)) and all(r["inner_total"] > 0 for r in losses)


def test_standalone_script_makes_relative_paths_absolute(tmp_path):
    """A DATA_PATH relative to the caller's folder that also exists under the project (data/HMR_DATA)
    must reach train.py as the caller's folder, not the project's."""
    recorder = tmp_path / "record.py"
    recorder.write_text(RECORDER)
    (tmp_path / "records").mkdir()
    (tmp_path / "data" / "HMR_DATA").mkdir(parents=True)
    (tmp_path / "weights.ckpt").write_bytes(b"")
    env = dict(os.environ, HMR_TRAIN_COMMAND=f"{sys.executable} {recorder}", RECORD_DIR=str(tmp_path / "records"),
               RANK_ID="0")
    result = subprocess.run(["bash", os.path.join(ROOT, "scripts", "run_standalone_train.sh"), "data/HMR_DATA",
                             "weights.ckpt", "--epochs", "1"], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads((tmp_path / "records" / "rank_0.json").read_text())
    argv = record["argv"]
    assert argv[argv.index("--data_path") + 1] == str(tmp_path / "data" / "HMR_DATA")
    assert argv[argv.index("--checkpoint_file_path") + 1] == str(tmp_path / "weights.ckpt")
    assert record["cwd"] == ROOT and argv[-2:] == ["--epochs", "1"]


MSRUN_RECORDER = """import json, os, sys
with open(os.environ["RECORD_FILE"], "w") as handle:
    json.dump(sys.argv[1:], handle)
"""


@pytest.mark.parametrize("rank", [0, 1])
def test_multi_node_msrun_command(tmp_path, rank):
    """``--msrun N --nodes K --node_rank R --master_addr --master_port``: K x N workers, N on this node, its rank,
    the given master, logs per node; the form missing the master is refused. msrun itself is replaced by a
    recorder (two real nodes: ``test_two_msrun_nodes_equal_one_process_over_their_union``)."""
    recorder = tmp_path / "msrun.py"
    recorder.write_text(MSRUN_RECORDER)
    (tmp_path / "data").mkdir()
    env = dict(os.environ, HMR_MSRUN_COMMAND=f"{sys.executable} {recorder}", RECORD_FILE=str(tmp_path / "argv.json"))
    common = ["bash", "scripts/run_distributed_train.sh", "--msrun", "4", "--nodes", "2", "--node_rank", str(rank)]
    done = subprocess.run(common + ["--master_addr", "10.1.2.3", "--master_port", "8118", str(tmp_path / "data"),
                                    "--output_path", str(tmp_path / "out"), "--batch_size", "8"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    argv = json.loads((tmp_path / "argv.json").read_text())
    assert argv[:6] == ["--worker_num=8", "--local_worker_num=4", f"--node_rank={rank}", "--master_addr=10.1.2.3",
                        "--master_port=8118", "--join=True"]
    assert argv[6] == f"--log_dir={tmp_path / 'out'}/msrun_logs/node_{rank}"
    assert argv[-2:] == ["--batch_size", "8"] and "--distributed" in argv
    refused = subprocess.run(common + [str(tmp_path / "data")], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=600)
    assert refused.returncode == 2 and "needs --master_addr and --master_port" in refused.stderr
