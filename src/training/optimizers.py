"""The encoder's optimiser: HMR's Adam, AdamW with layer-wise learning-rate decay (the ViT recipes), or plain SGD
(HAP's 3D recipe: ``torch.optim.SGD`` without momentum).

Layer-wise decay as BEiT / ViTPose (``LayerDecayOptimizerConstructor``) number a ViT's layers: the
patch and position embeddings are layer 0, block i is layer i + 1, everything after the blocks
(last norm, head) is layer L + 1; layer n learns at ``lr x decay^(L + 1 - n)``. AdamW does not decay
biases, 1-d parameters (norms) or position embeddings (``no_weight_decay`` of the ViT code bases).
"""
import re

ADAM, ADAMW, SGD = "adam", "adamw", "sgd"
BLOCK = re.compile(r"^encoder\.blocks\.(\d+)\.")
EMBEDDINGS = ("encoder.patch_embed.", "encoder.pos_embed")
NO_DECAY_NAMES = ("pos_embed", "pos_embedding")


def layer_id(name, depth):
    """The layer number of parameter ``name`` (its attribute path in the model) in a ViT of ``depth`` blocks."""
    if name.startswith(EMBEDDINGS):
        return 0
    match = BLOCK.match(name)
    return int(match.group(1)) + 1 if match else depth + 1


def decays_weight(name, param):
    """Whether AdamW's decoupled weight decay applies to this parameter."""
    return len(param.shape) > 1 and name.rsplit(".", 1)[-1] not in NO_DECAY_NAMES


def parameter_groups(named, depth, layer_decay, weight_decay, learning_rate):
    """MindSpore group settings: one group per (lr scale, decayed or not), ``learning_rate`` a list per step.

    Args:
        named: {attribute path: Parameter} of the trainable parameters; depth: ViT blocks (0 = no ViT:
            one scale); layer_decay: factor per layer (1 = off); weight_decay: of the decayed group.
    """
    groups = {}
    for name, param in named.items():
        scale = layer_decay ** (depth + 1 - layer_id(name, depth)) if depth else 1.0
        key = (scale, decays_weight(name, param))
        groups.setdefault(key, []).append(param)
    return [{"params": params, "lr": [lr * scale for lr in learning_rate],
             "weight_decay": weight_decay if decays else 0.0}
            for (scale, decays), params in sorted(groups.items(), key=lambda item: (-item[0][0], not item[0][1]))]


def build_encoder_optimizer(config, model, learning_rate):
    """``config.optimizer`` over the model's trainable parameters; ``learning_rate``: the per-step list."""
    from mindspore import nn

    from src.checkpoints import structural_parameters
    if config.optimizer in (ADAM, SGD):
        if config.layer_decay != 1.0:
            from model_utils.errors import UserInputError
            raise UserInputError(f"--layer_decay {config.layer_decay} needs --optimizer adamw (the ViT recipes' "
                                 f"optimiser); {config.optimizer} takes one learning rate")
        if config.optimizer == SGD:
            return nn.SGD(model.trainable_params(), learning_rate=learning_rate, weight_decay=config.weight_decay)
        return nn.Adam(model.trainable_params(), learning_rate=learning_rate, weight_decay=config.weight_decay)
    trainable = {id(p) for p in model.trainable_params()}
    named = {name: p for name, p in structural_parameters(model).items() if id(p) in trainable}
    depth = getattr(model.encoder, "depth", 0) if config.layer_decay != 1.0 else 0
    groups = parameter_groups(named, depth, config.layer_decay, config.weight_decay, learning_rate)
    return nn.AdamWeightDecay(groups, learning_rate=learning_rate)
