"""The one way to get a trained network: build it from the config and load its checkpoint, or fail
with a message naming what is missing."""
from model_utils.errors import UserInputError


def load_model(config, smpl, missing="--checkpoint_file_path is required for --source ckpt", checkpoint=None):
    """The HMR Cell of ``config`` with the weights of ``checkpoint`` (default ``checkpoint_file_path``);
    ``missing``: the one-line error when no checkpoint is given."""
    from src.builders import build_model
    from src.checkpoints import load_model_weights
    checkpoint = checkpoint or config.checkpoint_file_path
    if not checkpoint:
        raise UserInputError(missing)
    model = build_model(config, smpl)
    load_model_weights(checkpoint, model)
    return model
