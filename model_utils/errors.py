"""Errors the entry points report as one line (no traceback) with a non-zero exit."""


class UserInputError(ValueError):
    """Something a user can fix: a bad file, argument or data."""


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""
