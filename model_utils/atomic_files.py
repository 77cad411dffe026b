"""Atomic file writes (a temporary file in the same folder, then a rename) and the small
text formats every tool writes with them: JSON and Wavefront OBJ."""
import contextlib
import json
import os
import tempfile

import numpy as np


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Context manager yielding a file handle; ``path`` appears only if the block succeeds.

    A reader never sees a half-written file and a killed writer leaves the old file intact.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-" + os.path.basename(path) + "-", dir=folder)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def write_obj(path, vertices, faces):
    """Write a Wavefront OBJ. vertices (V, 3) float, faces (F, 3) 0-based int."""
    lines = ["v %.6f %.6f %.6f" % tuple(v) for v in np.asarray(vertices, np.float64)]
    lines += ["f %d %d %d" % tuple(f) for f in np.asarray(faces, np.int64) + 1]
    with atomic_write(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def write_json(path, payload):
    """Write ``payload`` as indented JSON."""
    with atomic_write(path, "w") as handle:
        json.dump(payload, handle, indent=2, sort_keys=False)
        handle.write("\n")
    return path


def read_json(path, default=None):
    """Read a JSON file, or return ``default`` when it does not exist."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return default


def write_checkpoint(arrays, output):
    """A plain MindSpore checkpoint of ``arrays`` ({name: array}), written atomically."""
    import mindspore as ms
    folder = os.path.dirname(os.path.abspath(output))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".tmp-{os.getpid()}-{os.path.basename(output)}")
    try:
        ms.save_checkpoint([{"name": k, "data": ms.Tensor(v)} for k, v in arrays.items()], tmp)
        os.replace(tmp, output)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return output
