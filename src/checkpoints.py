"""Training checkpoints: encoder, discriminator, both optimisers and the step, in one file.

Files are ``hmr-step00001000.ckpt`` in the run folder, written atomically (temporary file,
then rename), the newest ``keep`` kept. Parameter names carry a prefix per part
(``model.``, ``disc.``, ``opt_e.``, ``opt_d.``; a Meta-HMR run has ``model.``, ``aux.``,
``opt_e.``; a loss-scaled run also ``scaler.``, the loss-scale state);
:func:`load_model_weights` also accepts a plain model checkpoint without prefixes (exported or
converted weights).

Network weights are named by their attribute path (``encoder.layer1.0.conv1.weight``),
not by ``Parameter.name``, which MindSpore rewrites when a network is wrapped in a
training cell; so any fresh model loads them. Optimiser state (moments, step, powers) is
stored by position (``opt_e.00012.<name>``), as those names change the same way; it is only
restored into an identically built training set-up. The learning-rate schedule is not
stored: it follows the configuration of the resumed run.
"""
import contextlib
import glob
import logging
import os
import re

import mindspore as ms
from mindspore.train import serialization as ms_serialization

from model_utils.errors import UserInputError

logger = logging.getLogger(__name__)

PATTERN = re.compile(r"^hmr-step(\d{8})\.ckpt$")
PARTS = ("model", "disc", "aux", "opt_e", "opt_d", "scaler")
NETWORKS = ("model", "disc", "aux", "scaler")   # the parts stored by name; the others are optimisers


def checkpoint_path(folder, step):
    return os.path.join(folder, f"hmr-step{step:08d}.ckpt")


def list_checkpoints(folder):
    """[(step, path)] of the training checkpoints in ``folder``, oldest first."""
    found = []
    for path in glob.glob(os.path.join(folder, "hmr-step*.ckpt")):
        match = PATTERN.match(os.path.basename(path))
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def structural_parameters(cell):
    """{attribute path: Parameter} of every parameter under ``cell`` (first path wins)."""
    out, seen = {}, set()
    for path, sub in cell.cells_and_names():
        for attr, param in sub._params.items():  # pylint: disable=protected-access
            if param is not None and id(param) not in seen:
                seen.add(id(param))
                out[f"{path}.{attr}" if path else attr] = param
    return out


def optimizer_state(optimizer, network_ids):
    """The optimiser's own parameters in a fixed order (no network weights, no learning rates: neither
    ``learning_rate`` nor a parameter group's ``learning_rate_group_<i>``, whose names MindSpore
    rewrites once the optimiser runs in a training cell)."""
    return [p for p in optimizer.get_parameters()
            if id(p) not in network_ids and "learning_rate" not in p.name]


def _part_records(name, cell, network_ids):
    if name in NETWORKS:
        return [{"name": f"{name}.{path}", "data": p} for path, p in structural_parameters(cell).items()]
    return [{"name": f"{name}.{i:05d}.{p.name}", "data": p} for i, p in enumerate(optimizer_state(cell, network_ids))]


def _network_ids(parts):
    return {id(p) for name in NETWORKS if name in parts for p in parts[name].get_parameters()}


def save_training_checkpoint(folder, step, parts, keep, extra=None):
    """Write the checkpoint of ``step`` atomically and delete all but the newest ``keep``.

    Args:
        parts: dict with the Cells of a run among ``PARTS`` (``model``, ``disc``, ``opt_e``, ``opt_d``;
            or ``model``, ``aux``, ``opt_e``); the optimisers' own state only (moments, step,
            powers) is stored under their prefix.
        extra: dict of int/float/str/bool saved alongside (epoch, config path, ...).
    Returns:
        the checkpoint path.
    """
    os.makedirs(folder, exist_ok=True)
    network_ids = _network_ids(parts)
    records = [r for name in PARTS if name in parts for r in _part_records(name, parts[name], network_ids)]
    final = checkpoint_path(folder, step)
    tmp = os.path.join(folder, f".tmp-{os.getpid()}-{os.path.basename(final)}")
    ms.save_checkpoint(records, tmp, append_dict=dict(extra or {}, step=int(step)))
    os.replace(tmp, final)
    for _, old in list_checkpoints(folder)[:-keep] if keep > 0 else []:
        os.remove(old)
    return final


def _available_memory():
    """Bytes the kernel can hand out now (``MemAvailable``: free pages plus reclaimable cache)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


@contextlib.contextmanager
def _memory_check_counting_the_page_cache():
    """Make MindSpore's pre-load memory check count reclaimable page cache as available.

    MindSpore 2.10's ``load_checkpoint`` refuses a ``.ckpt`` larger than
    ``sysconf(SC_AVPHYS_PAGES)``, which is MemFree: on a machine that has written a few GB of
    files, the page cache leaves MemFree at a few hundred MB while 20+ GB are available, and a
    300 MB checkpoint is refused (seen on the CI machine). The check runs after the file has
    already been read; this swaps its probe for MemAvailable while the load runs.
    """
    probe = getattr(ms_serialization, "_get_available_memory", None)
    if probe is None:
        yield
        return
    ms_serialization._get_available_memory = lambda: _available_memory() or probe()  # pylint: disable=protected-access
    try:
        yield
    finally:
        ms_serialization._get_available_memory = probe  # pylint: disable=protected-access


def _read(path):
    if not os.path.isfile(path):
        raise UserInputError(f"checkpoint not found: {path}")
    try:
        with _memory_check_counting_the_page_cache():
            return ms.load_checkpoint(path)
    except Exception as err:
        raise UserInputError(f"{path}: not a readable MindSpore checkpoint ({type(err).__name__}: {err})") from err


def _config_hint(path):
    saved = os.path.join(os.path.dirname(os.path.abspath(path)), "config.yaml")
    return f" (the run's config is {saved}: pass --config_path {saved})" if os.path.isfile(saved) else \
        " (was it written for another backbone or pose head?)"


def _load_network(cell, params, path, part):
    """Copy ``params`` ({attribute path: value}) into ``cell``; every parameter must be present.

    The first parameter (in the model's order) whose shape differs is reported with both
    shapes; then any missing ones.
    """
    targets = structural_parameters(cell)
    for name, param in targets.items():
        if name in params and tuple(params[name].shape) != tuple(param.shape):
            raise UserInputError(f"{path}: {part} parameter '{name}' has shape {tuple(params[name].shape)} in the "
                                 f"checkpoint, the model expects {tuple(param.shape)}{_config_hint(path)}")
    missing = [n for n in targets if n not in params]
    if missing:
        raise UserInputError(f"{path}: {part} weights missing {len(missing)} parameter(s), e.g. {missing[:3]}"
                             f"{_config_hint(path)}")
    for name, param in targets.items():
        value = params[name]
        param.set_data(value.astype(param.dtype) if value.dtype != param.dtype else value)


def _load_optimizer(cell, params, path, part, network_ids):
    """Restore optimiser state saved by position (see the module docstring)."""
    by_index = {int(k.split(".", 1)[0]): v for k, v in params.items()}
    targets = optimizer_state(cell, network_ids)
    if sorted(by_index) != list(range(len(targets))):
        raise UserInputError(f"{path}: {part} holds {len(by_index)} state tensors, this optimiser has {len(targets)} "
                             "(was it written for another model or optimiser?)")
    for i, param in enumerate(targets):
        value = by_index[i]
        if tuple(value.shape) != tuple(param.shape):
            raise UserInputError(f"{path}: {part} state {i} ({param.name}) has shape {tuple(value.shape)}, "
                                 f"expected {tuple(param.shape)}")
        param.set_data(value.astype(param.dtype) if value.dtype != param.dtype else value)


def _part(data, name):
    """{name within the part: value} of the checkpoint entries under ``name.``."""
    prefix = name + "."
    return {k[len(prefix):]: v for k, v in data.items() if k.startswith(prefix)}


def load_training_checkpoint(path, parts):
    """Restore every part from ``path``. Returns the saved ``step``."""
    data = _read(path)
    if "step" not in data:
        raise UserInputError(f"{path}: not a training checkpoint (no 'step'); use it as --checkpoint_file_path")
    network_ids = _network_ids(parts)
    for name in (n for n in PARTS if n in parts):
        sub = _part(data, name)
        if not sub:
            raise UserInputError(f"{path}: no '{name}' part - written by another kind of run (--meta, --loss_scale)?")
        if name in NETWORKS:
            _load_network(parts[name], sub, path, name)
        else:
            _load_optimizer(parts[name], sub, path, name, network_ids)
    return int(data["step"].asnumpy() if hasattr(data["step"], "asnumpy") else data["step"])


def load_model_weights(path, model, discriminator=None):
    """Load only the model's weights, from a training checkpoint or a plain one.

    A checkpoint holding only ``encoder.*`` (e.g. converted ImageNet ResNet-50 weights)
    initialises the encoder; the regressor keeps its initialisation. ``discriminator``: also
    filled from the file's ``disc.`` part where it has one (a converted HMR 2.0 release carries
    its trained prior), from the same read.
    """
    data = _read(path)
    disc = _part(data, "disc")
    if discriminator is not None and disc:
        _load_network(discriminator, disc, path, "disc")
        logger.info("discriminator weights loaded from %s", path)
    sub = _part(data, "model") or {k: v for k, v in data.items() if k != "step"}
    if sub and all(k.startswith("encoder.") for k in sub):
        _load_network(model.encoder, _part(sub, "encoder"), path, "encoder")
        logger.info("encoder weights loaded from %s (the regressor keeps its initialisation)", path)
        return
    _load_network(model, sub, path, "model")
    logger.info("model weights loaded from %s", path)


def aux_source(config):
    """Where Meta-HMR's auxiliary network comes from: ``aux_checkpoint``, else ``checkpoint_file_path``
    (its ``aux.`` part when it has one, else its model weights)."""
    path = config.aux_checkpoint or config.checkpoint_file_path
    if not path:
        raise UserInputError("Meta-HMR's auxiliary network needs trained weights: pass --aux_checkpoint or "
                             "--checkpoint_file_path")
    return path


def load_aux_weights(config, aux):
    """Initialise the auxiliary network (see :func:`aux_source`)."""
    path = aux_source(config)
    data = _read(path)
    sub = _part(data, "aux")
    if sub:
        _load_network(aux, sub, path, "aux")
        logger.info("auxiliary network loaded from the aux part of %s", path)
    else:
        load_model_weights(path, aux)


def weights_digest(model):
    """SHA-1 over every parameter of ``model`` (name and bytes): identifies the weights a graph holds."""
    import hashlib
    digest = hashlib.sha1()
    for param in sorted(model.get_parameters(), key=lambda p: p.name):
        digest.update(param.name.encode())
        digest.update(param.asnumpy().tobytes())
    return digest.hexdigest()
