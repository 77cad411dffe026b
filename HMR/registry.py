"""Name -> component lookup for architectures, backbones, heads and cameras (mindcv-style
registry, lazily imported).

Each registry maps a config name to a :class:`Component`: where its factory lives
(``"module:callable"``, imported only when the component is built, so importing a registry
imports no MindSpore; or the callable itself) and the facts the builders need about it without
building it. A registry is the only place that knows its entries by name: code elsewhere asks it
for a component's facts, never compares names.
"""
import functools
import importlib
from dataclasses import dataclass, field


class UnknownComponentError(ValueError):
    """A component name that no registry entry has (a user-facing, one-line error)."""

    user_facing = True


@dataclass(frozen=True)
class Component:
    """One registry entry.

    Args:
        target: ``"module.path:callable"`` or the callable (a component registered at run time).
        config_options: ``{constructor keyword: config key}`` of the options the builders read from
            the config (e.g. a ViT's ``{"width": "vit_width"}``).
        facts: what the builders need to know about the component (e.g. a backbone's ``crop_multiple``).
    """

    target: object
    config_options: dict = field(default_factory=dict)
    facts: dict = field(default_factory=dict)

    def factory(self):
        if callable(self.target):
            return self.target
        module, attribute = self.target.split(":")
        return functools.reduce(getattr, attribute.split("."), importlib.import_module(module))

    def fact(self, name, default=None):
        return self.facts.get(name, default)


class Registry:
    """Components of one kind.

    Args:
        kind: what the entries are (``backbone``, ``head``, ...), for error messages.
        entries: ``{name: Component or "module.path:callable"}``.
    """

    def __init__(self, kind, entries):
        self.kind = kind
        self.entries = {name: entry if isinstance(entry, Component) else Component(entry)
                        for name, entry in entries.items()}

    def names(self):
        return tuple(sorted(self.entries))

    def register(self, name, target, config_options=None, **facts):
        """Add (or replace) the entry ``name``: how a new component joins without editing this file.
        Returns the entry."""
        self.entries[name] = Component(target, dict(config_options or {}), facts)
        return self.entries[name]

    def unregister(self, name):
        self.entries.pop(name, None)

    def get(self, name):
        """The entry ``name`` (:class:`Component`)."""
        if name not in self.entries:
            raise UnknownComponentError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}")
        return self.entries[name]

    def with_fact(self, name, value=True):
        """Names of the entries whose fact ``name`` equals ``value``."""
        return tuple(n for n in self.names() if self.entries[n].fact(name) == value)

    def build(self, name, *args, **kwargs):
        """The component ``name`` constructed with ``args`` / ``kwargs``."""
        return self.get(name).factory()(*args, **kwargs)

