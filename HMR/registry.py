"""Name -> component lookup for backbones and heads (mindcv-style registry, lazily imported).

Each registry maps a config name to ``"module:callable"``; the module is imported only when
the component is built, so importing the registry imports no MindSpore.
"""
import functools
import importlib


class UnknownComponentError(ValueError):
    """A backbone or head name that no registry entry has (a user-facing, one-line error)."""

    user_facing = True


class Registry:
    """Components of one kind.

    Args:
        kind: what the entries are (``backbone``, ``head``), for error messages.
        entries: ``{name: "module.path:callable"}``.
    """

    def __init__(self, kind, entries):
        self.kind = kind
        self.entries = dict(entries)

    def names(self):
        return tuple(sorted(self.entries))

    def build(self, name, *args, **kwargs):
        """The component ``name`` constructed with ``args`` / ``kwargs``."""
        if name not in self.entries:
            raise UnknownComponentError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}")
        module, attribute = self.entries[name].split(":")
        factory = functools.reduce(getattr, attribute.split("."), importlib.import_module(module))
        return factory(*args, **kwargs)
