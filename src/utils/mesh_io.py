"""Mesh and JSON outputs, written atomically."""
import json

import numpy as np

from src.utils.atomic import atomic_write


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
