"""Errors the entry points report as one line (no traceback) with a non-zero exit.

The entry points recognise such errors by a class attribute ``user_facing = True``, not by
their type, so the network library (``HMR/``, which imports nothing from here) marks its own
(e.g. ``SMPLModelError``) the same way.
"""


def is_user_facing(error):
    """Whether ``error`` is one a user can fix (reported as one line, no traceback)."""
    return bool(getattr(error, "user_facing", False)) or isinstance(error, FileNotFoundError)


class UserInputError(ValueError):
    """Something a user can fix: a bad file, argument or data."""

    user_facing = True


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""

    user_facing = True
