"""Logging set-up: rank 0 logs to the console, every rank may log to a file."""
import logging
import os
import sys

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(output_dir=None, rank=0, level=logging.INFO, filename="log.txt"):
    """Configure the root logger once per process.

    Args:
        output_dir: if given, also log to ``output_dir/filename`` (created).
        rank: only rank 0 logs to the console (others log warnings and errors only).
    Returns:
        the root logger.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(level)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(level if rank == 0 else logging.WARNING)
    console.setFormatter(logging.Formatter(LOG_FORMAT, "%H:%M:%S"))
    root.addHandler(console)
    if output_dir:
        os.makedirs(output_dir, exist_ok=True)
        file_handler = logging.FileHandler(os.path.join(output_dir, filename))
        file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(file_handler)
    return root
