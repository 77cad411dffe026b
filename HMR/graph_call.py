"""Calls that forward a ``*varargs`` tuple inside graph-compiled code.

MindSpore 2.10's graph compiler keeps a reference to the calling cell, for the life of the process, when
a function unpacks its own ``*varargs`` into a call (``self.head(x, *extra)``, also for an empty tuple
and for expressions of it such as ``*extra[:-1]``); the cell, its parameters and its compiled graphs are
then never freed, and ``mindspore.ms_memory_recycle`` does not release them. Unpacking an ordinary
argument does not do this, so graph code forwards varargs through :func:`call`. Measured: each training
step built in one process kept ~180 MB, and two test processes grew past 11 GB
(``tests/unit/training/test_graph_memory.py`` checks that a compiled model is freed).
"""


def call(function, arguments):
    """``function(*arguments)``, with ``arguments`` an ordinary tuple (see the module docstring)."""
    return function(*arguments)
