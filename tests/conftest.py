"""Shared test set-up: the CPU ISA cap (before MindSpore loads) and the body-model fixtures."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from model_utils.device_adapter import configure_cpu_isa  # noqa: E402

configure_cpu_isa()

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def body_model_dir(tmp_path_factory):
    """A folder with the synthetic model written in the HMR_DATA layout (built once)."""
    from src.synthetic.write_model import write_body_model
    folder = tmp_path_factory.mktemp("body_model")
    write_body_model(str(folder), seed=0)
    return folder


@pytest.fixture(scope="session")
def body_model_pkl(body_model_dir):
    return str(body_model_dir / "neutral_smpl_with_cocoplus_reg.pkl")


@pytest.fixture(scope="session")
def body_model_arrays():
    """The synthetic model as dense numpy arrays (the builder's own output)."""
    from src.synthetic.body_model import build_body_model
    return build_body_model(seed=0)
