"""Layer-wise learning-rate decay and AdamW's no-decay set, by hand for a 2-block ViT (BEiT / ViTPose numbering)."""
from types import SimpleNamespace

import pytest


def _param(*shape):
    return SimpleNamespace(shape=shape)


def test_layer_decay_scales_and_no_decay_parameters():
    from src.training.optimizers import parameter_groups
    named = {"encoder.patch_embed.proj.weight": _param(8, 3, 16, 16), "encoder.pos_embed": _param(1, 5, 8),
             "encoder.blocks.0.attn.qkv.weight": _param(24, 8), "encoder.blocks.0.norm1.weight": _param(8),
             "encoder.blocks.1.mlp.fc1.weight": _param(32, 8), "encoder.blocks.1.mlp.fc1.bias": _param(32),
             "encoder.last_norm.weight": _param(8), "regressor.decpose.weight": _param(144, 16)}
    groups = parameter_groups(named, depth=2, layer_decay=0.5, weight_decay=0.1, learning_rate=[1.0, 2.0])
    found = {}
    for group in groups:
        for param in group["params"]:
            name = next(k for k, v in named.items() if v is param)
            found[name] = (group["lr"], group["weight_decay"])
    # layer n of L + 1 = 3 learns at decay^(3 - n): embeddings n = 0, block i n = i + 1, the rest n = 3
    assert found["encoder.patch_embed.proj.weight"] == ([0.125, 0.25], 0.1)
    assert found["encoder.pos_embed"] == ([0.125, 0.25], 0.0)
    assert found["encoder.blocks.0.attn.qkv.weight"] == ([0.25, 0.5], 0.1)
    assert found["encoder.blocks.0.norm1.weight"] == ([0.25, 0.5], 0.0)
    assert found["encoder.blocks.1.mlp.fc1.weight"] == ([0.5, 1.0], 0.1)
    assert found["encoder.blocks.1.mlp.fc1.bias"] == ([0.5, 1.0], 0.0)
    assert found["encoder.last_norm.weight"] == ([1.0, 2.0], 0.0)
    assert found["regressor.decpose.weight"] == ([1.0, 2.0], 0.1)
    assert len(found) == len(named)


def test_layer_decay_needs_adamw():
    from model_utils.config import load_config
    from model_utils.errors import UserInputError
    from src.training.optimizers import build_encoder_optimizer
    with pytest.raises(UserInputError, match="--layer_decay 0.75 needs --optimizer adamw"):
        build_encoder_optimizer(load_config(["--layer_decay", "0.75"]), None, [1e-5])
