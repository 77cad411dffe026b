"""The CPU ISA cap is set before MindSpore loads, and a user's own value wins."""
import os
import subprocess
import sys

from model_utils.device_adapter import ISA_VARIABLE, configure_cpu_isa, get_device_num, get_rank_id

from conftest import ROOT


def _isa_in_fresh_process(env_value):
    env = {k: v for k, v in os.environ.items() if k != ISA_VARIABLE}
    if env_value is not None:
        env[ISA_VARIABLE] = env_value
    code = ("from model_utils.device_adapter import configure_cpu_isa; import os, sys; "
            "configure_cpu_isa(); print(os.environ['ONEDNN_MAX_CPU_ISA'])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_default_is_avx2():
    assert _isa_in_fresh_process(None) == "AVX2"


def test_user_value_wins():
    assert _isa_in_fresh_process("ALL") == "ALL"


def test_tests_run_with_the_cap():
    assert configure_cpu_isa() == os.environ[ISA_VARIABLE]


def test_rank_environment(monkeypatch):
    monkeypatch.setenv("RANK_ID", "3")
    monkeypatch.setenv("RANK_SIZE", "8")
    assert get_rank_id() == 3 and get_device_num() == 8
    monkeypatch.setenv("RANK_ID", "x")
    try:
        get_rank_id()
    except ValueError as err:
        assert "RANK_ID" in str(err)
    else:
        raise AssertionError("a non-integer RANK_ID must be rejected")
