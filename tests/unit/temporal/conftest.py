"""The temporal refiners' body model: the synthetic SMPL with its H36M regressor."""
import pytest


@pytest.fixture(scope="module")
def smpl(body_model_dir):
    from HMR import SMPL
    return SMPL(str(body_model_dir / "neutral_smpl_with_cocoplus_reg.pkl"),
                extra_regressors={"h36m": str(body_model_dir / "J_regressor_h36m.npy")})
