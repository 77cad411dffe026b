"""Why the oneDNN ISA cap exists: a ResNet stage with and without ``ONEDNN_MAX_CPU_ISA=AVX2``.

``bash scripts/run_bench.sh isa``. Each setting runs in its own process (oneDNN reads the
variable once, when MindSpore loads).
"""
import os
import subprocess
import sys

CHILD = r"""
import time, numpy as np, mindspore as ms
from mindspore import nn
ms.set_context(mode=ms.GRAPH_MODE)
layers = []
for _ in range(4):
    layers += [nn.Conv2d(64, 64, 3, pad_mode="same", has_bias=False), nn.BatchNorm2d(64), nn.ReLU()]
net = nn.SequentialCell(layers)
net.set_train(False)
x = ms.Tensor(np.random.default_rng(0).normal(size=(1, 64, 56, 56)).astype(np.float32))
net(x).asnumpy()
times = []
for _ in range(5):
    t = time.perf_counter(); net(x).asnumpy(); times.append((time.perf_counter() - t) * 1e3)
print(sorted(times)[2])
"""


def _run(isa):
    env = dict(os.environ)
    env["ONEDNN_MAX_CPU_ISA"] = isa
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main():
    from tests.benchmarks.timing import print_table
    capped, default = _run("AVX2"), _run("ALL")
    print_table("4 x (conv3x3 64->64, BN, ReLU) at 1x64x56x56, forward ms (median of 5)",
                ("ONEDNN_MAX_CPU_ISA=AVX2 (project default)", "ONEDNN_MAX_CPU_ISA=ALL (oneDNN's choice)", "speed-up"),
                [(f"{capped:.1f}", f"{default:.1f}", f"{default / capped:.1f}x")])


if __name__ == "__main__":
    main()
