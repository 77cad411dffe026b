"""Strict, typed configuration: ``config.yaml`` -> :class:`Config`, with command-line overrides.

``config.yaml`` holds two YAML documents, as in the model zoo: the values, then a help text
for every key. The project's own ``config.yaml`` is the schema: it fixes the set of keys and
each key's type (from its default). A user's file given with ``--config_path`` may set any
subset of those keys; ``--KEY VALUE`` (or ``--KEY=VALUE``) on the command line beats both.
Unknown keys and values of the wrong type are errors that name the key and the file.

A help text may end with the key's allowed values in brackets, checked wherever a value is
set (for a list: every element):

* ``[>= 1]``, ``[> 0]``, ``[<= 5]``, ``[0 .. 1]`` (inclusive) -- numbers;
* ``[>= 0, sum > 0]`` -- several conditions; ``sum`` applies to a list's total;
* ``[CPU | GPU | Ascend]`` -- choices (a string key's rule is always its choices, even one).

Nothing is read at import time.
"""
import logging
import os
import re

import yaml

from model_utils.atomic_files import atomic_write

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CONFIG_PATH = os.path.join(PROJECT_ROOT, "config.yaml")
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
logger = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A configuration file or command-line override is invalid."""

    user_facing = True


class Config:
    """Read-only attribute access to resolved configuration values."""

    def __init__(self, values, help_texts, sources, rules=None):
        object.__setattr__(self, "_values", dict(values))
        object.__setattr__(self, "_help", dict(help_texts))
        object.__setattr__(self, "_rules", dict(rules or {}))
        object.__setattr__(self, "sources", tuple(sources))

    def __getattr__(self, key):
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(f"config has no key '{key}'") from None

    def __setattr__(self, key, value):
        raise AttributeError("Config is read-only; use Config.replace(**changes)")

    def __contains__(self, key):
        return key in self._values

    def replace(self, **changes):
        """A copy with some values changed (checked against the schema types)."""
        values = dict(self._values)
        for key, value in changes.items():
            if key not in values:
                raise ConfigError(f"unknown config key '{key}'")
            values[key] = _checked(value, self._values[key], key, "Config.replace", self._rules)
        return Config(values, self._help, self.sources, self._rules)

    def to_dict(self):
        return dict(self._values)

    def help(self, key):
        return self._help[key]

    def save(self, path):
        """Write the resolved values as YAML (atomically); loadable with ``--config_path``."""
        header = "# Resolved configuration. Sources, lowest priority first: " + ", ".join(self.sources) + "\n"
        with atomic_write(path, "w") as handle:
            handle.write(header)
            yaml.safe_dump(self._values, handle, sort_keys=False, default_flow_style=None)
        return path


def _read_yaml_documents(path):
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path}")
    try:
        with open(path, encoding="utf-8") as handle:
            docs = [d for d in yaml.safe_load_all(handle) if d is not None]
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from err
    if not docs or not all(isinstance(d, dict) for d in docs):
        raise ConfigError(f"{path}: expected YAML mappings (values, then optional help texts)")
    return docs


def _type_name(default):
    return "a list" if isinstance(default, list) else type(default).__name__


def _coerce(value, default, key, origin):
    """Check/convert ``value`` to the type of ``default``; raise ConfigError naming ``key``."""
    if default is None or value is None:
        return value
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE + _FALSE:
            return value.lower() in _TRUE
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    elif isinstance(default, list):
        if isinstance(value, (list, tuple)):
            if default:
                return [_coerce(v, default[0], f"{key}[{i}]", origin) for i, v in enumerate(value)]
            return list(value)
    raise ConfigError(f"{origin}: key '{key}' expects {_type_name(default)}, got {value!r}")


_RULE = re.compile(r"\s\[([^\[\]]+)\]$")
_COMPARISON = re.compile(r"^(sum\s+)?(>=|>|<=|<)\s*(\S+)$")
_INTERVAL = re.compile(r"^(\S+)\s*\.\.\s*(\S+)$")
_OPERATORS = {">=": (lambda a, b: a >= b), ">": (lambda a, b: a > b), "<=": (lambda a, b: a <= b),
              "<": (lambda a, b: a < b)}


def parse_rule(key, help_text, default):
    """The allowed values a help text ends with, or None.

    Returns ``{"choices": (...)}`` or ``{"conditions": [(aggregate or None, operator, number)]}``.
    """
    match = _RULE.search(help_text.strip())
    if not match:
        return None
    body = match.group(1).strip()
    element = (default[0] if default else "") if isinstance(default, list) else default
    if "|" in body or isinstance(element, str):
        return {"choices": tuple(_coerce(_parse_scalar(c.strip(), element), element, key, "config.yaml")
                                 for c in body.split("|"))}
    conditions = []
    for part in (p.strip() for p in body.split(",")):
        comparison, interval = _COMPARISON.match(part), _INTERVAL.match(part)
        try:
            if comparison:
                conditions.append(("sum" if comparison.group(1) else None, comparison.group(2),
                                   float(comparison.group(3))))
            elif interval:
                conditions += [(None, ">=", float(interval.group(1))), (None, "<=", float(interval.group(2)))]
            else:
                raise ValueError(part)
        except ValueError:
            raise ConfigError(f"config.yaml: help of '{key}' ends with an unreadable rule [{body}]") from None
    return {"conditions": conditions}


def _check_rule(key, value, rule, origin):
    """Raise ConfigError naming ``key`` and ``origin`` when ``value`` breaks ``rule``."""
    if rule is None or value is None:
        return
    elements = value if isinstance(value, list) else [value]
    if "choices" in rule:
        for element in elements:
            if element not in rule["choices"]:
                choices = ", ".join(str(c) for c in rule["choices"])
                raise ConfigError(f"{origin}: key '{key}' must be one of {choices}; got {element!r}")
        return
    for aggregate, operator, bound in rule["conditions"]:
        tested = [sum(elements)] if aggregate == "sum" else elements
        for element in tested:
            if not _OPERATORS[operator](element, bound):
                what = f"the sum of '{key}'" if aggregate else f"key '{key}'"
                raise ConfigError(f"{origin}: {what} must be {operator} {bound:g}; got {element!r}")


def _checked(value, default, key, origin, rules):
    """``_coerce`` then the key's rule."""
    value = _coerce(value, default, key, origin)
    _check_rule(key, value, rules.get(key), origin)
    return value


def _parse_scalar(text, default):
    """One command-line scalar: numbers by the key's type (so ``2e-4`` is a float), else YAML."""
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        try:
            return int(text) if isinstance(default, int) else float(text)
        except ValueError:
            return text
    if isinstance(default, str):
        return text
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _parse_cli_value(text, default):
    """Parse one command-line value; lists as ``a,b,c`` or ``[a, b, c]``."""
    if isinstance(default, list):
        element = default[0] if default else None
        inner = text.strip()
        if inner.startswith("[") and inner.endswith("]"):
            inner = inner[1:-1]
        return [_parse_scalar(part.strip(), element) for part in inner.split(",") if part.strip() != ""]
    return _parse_scalar(text, default)


# Short command-line spellings of keys (the demo's documented ``--model FILE`` and, for the seed's video
# chain, ``--refiner_model FILE``; in files the latter is the old name of temporal_model, warned about).
CLI_ALIASES = {"model": "model_file", "refiner_model": "temporal_model"}

# Keys renamed so that SMPL fitting (fit_*), the temporal network (temporal_*) and track
# smoothing (one_euro_*) no longer share "refine": the old spellings are read, with a warning,
# from files and the command line until the release after.
_TEMPORAL_KEYS = ("checkpoint", "model", "dim", "depth", "heads", "hidden", "kernel", "clip", "steps", "batch_size",
                  "lr", "keypoint_noise", "joint_weight", "vertex_weight", "pose_weight", "accel_weight")
RENAMED_KEYS = {"refine": "fit_steps", "train_refiner": "train_temporal",
                **{f"refine_{k}": f"fit_{k}" for k in ("lr", "robust_sigma", "reprojection_weight", "pose_weight",
                                                      "limit_weight", "shape_weight")},
                **{f"refiner_{k}": f"temporal_{k}" for k in _TEMPORAL_KEYS}}


def _current_key(key, origin):
    """``key``'s current name (a renamed key's old spelling is warned about)."""
    if key in RENAMED_KEYS:
        logger.warning("%s: '%s' is now called '%s'; the old name will stop working in the next release",
                       origin, key, RENAMED_KEYS[key])
        return RENAMED_KEYS[key]
    return key


def _cli_overrides(argv, schema):
    """Turn ``--KEY VALUE`` / ``--KEY=VALUE`` / bare ``--BOOL`` tokens into a dict."""
    overrides, i = {}, 0
    while i < len(argv):
        token = argv[i]
        if not token.startswith("--") or token == "--":
            raise ConfigError(f"command line: expected --KEY VALUE, got '{token}'")
        key, has_value, value = token[2:].partition("=")
        key = _current_key(CLI_ALIASES.get(key, key), "command line")
        if key not in schema:
            raise ConfigError(f"command line: unknown option '--{key}' (see config.yaml for the keys)")
        if not has_value:
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            if isinstance(schema[key], bool) and (nxt is None or nxt.startswith("--")):
                value = "true"
            elif nxt is None:
                raise ConfigError(f"command line: option '--{key}' needs a value")
            else:
                value = nxt
                i += 1
        overrides[key] = _parse_cli_value(value, schema[key])
        i += 1
    return overrides


def load_config(argv=None, schema_path=DEFAULT_CONFIG_PATH):
    """Resolve the configuration.

    Args:
        argv: command-line tokens (without the program name); ``--config_path FILE`` selects
            a user file, every other ``--KEY VALUE`` overrides one key.
        schema_path: the project's ``config.yaml`` (keys, types, defaults, help).
    Returns:
        :class:`Config`.
    Raises:
        ConfigError naming the file or option and the key at fault.
    """
    argv = list(argv or [])
    docs = _read_yaml_documents(schema_path)
    schema, help_texts = docs[0], (docs[1] if len(docs) > 1 else {})
    undocumented = [k for k in schema if k not in help_texts]
    if undocumented:
        raise ConfigError(f"{schema_path}: keys without a help text: {undocumented}")
    rules = {k: parse_rule(k, str(help_texts[k]), schema[k]) for k in schema}
    for key, value in schema.items():
        _check_rule(key, value, rules[key], schema_path)
    config_path = None
    rest = []
    i = 0
    while i < len(argv):
        if argv[i] == "--config_path" and i + 1 < len(argv):
            config_path, i = argv[i + 1], i + 2
        elif argv[i].startswith("--config_path="):
            config_path, i = argv[i].split("=", 1)[1], i + 1
        else:
            rest.append(argv[i])
            i += 1
    values, sources = dict(schema), [schema_path]
    if config_path and os.path.abspath(config_path) != os.path.abspath(schema_path):
        user = _read_yaml_documents(config_path)[0]
        for key, value in user.items():
            key = _current_key(key, config_path)
            if key not in schema:
                raise ConfigError(f"{config_path}: unknown config key '{key}'")
            values[key] = _checked(value, schema[key], key, config_path, rules)
        sources.append(config_path)
    for key, value in _cli_overrides(rest, schema).items():
        values[key] = _checked(value, schema[key], key, "command line", rules)
    if rest:
        sources.append("command line")
    return Config(values, help_texts, sources, rules)


def format_help(config):
    """One line per key: ``--key (default): help``."""
    return "\n".join(f"--{k} ({v!r}): {config.help(k)}" for k, v in config.to_dict().items())
