"""Where this process runs: CPU speed setting, device and rank ids from the environment.

The CPU ISA cap
---------------
On CPUs with AVX-512/AMX, MindSpore 2.10's oneDNN picks its reference (unoptimised)
kernel for every convolution larger than 1x1 (``ONEDNN_VERBOSE=1`` prints ``ref:any``);
capping oneDNN at AVX2 selects the JIT kernels instead. Measured on this project's 2-core
CPU machines: ResNet-50 forward at batch 1 ~3 s -> ~80 ms, a training step at batch 8
~50 s -> ~1.6 s (``bash scripts/run_bench.sh isa`` reproduces the ratio). oneDNN reads
the variable once, when MindSpore loads it, so :func:`configure_cpu_isa` must run before
``import mindspore``; every entry point and the test suite call it first. A value the user
already exported wins (``ONEDNN_MAX_CPU_ISA=ALL`` restores oneDNN's own choice). The cap
only concerns oneDNN, i.e. MindSpore's CPU kernels; Ascend and GPU runs are unaffected.
"""
import logging
import os
import sys

DEFAULT_CPU_ISA = "AVX2"
ISA_VARIABLE = "ONEDNN_MAX_CPU_ISA"

logger = logging.getLogger(__name__)


def configure_cpu_isa():
    """Set ``ONEDNN_MAX_CPU_ISA`` (default AVX2) unless the user set it. Returns the value in force."""
    if ISA_VARIABLE not in os.environ and "mindspore" in sys.modules:
        logger.warning("mindspore was imported before configure_cpu_isa(): %s=%s has no effect in this process",
                       ISA_VARIABLE, DEFAULT_CPU_ISA)
    return os.environ.setdefault(ISA_VARIABLE, DEFAULT_CPU_ISA)


def _env_int(name, default):
    value = os.environ.get(name, "")
    try:
        return int(value) if value != "" else default
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer") from None


def get_device_id():
    """Device index on this host (``DEVICE_ID``, default 0)."""
    return _env_int("DEVICE_ID", 0)


def get_rank_id():
    """Global rank (``RANK_ID``, default 0)."""
    return _env_int("RANK_ID", 0)


def get_device_num():
    """Number of ranks in the job (``RANK_SIZE``, default 1)."""
    return _env_int("RANK_SIZE", 1)
