"""Write an SMPL pickle the way the official Python-2 files look: arrays wrapped in chumpy
``Ch`` objects and sparse matrices under the old ``scipy.sparse.csc`` module path.

Neither chumpy nor the old scipy module is imported: fake modules are put into
``sys.modules`` only while pickling, so the pickle stream names ``chumpy.ch.Ch`` and
``scipy.sparse.csc.csc_matrix`` exactly as the real files do.
"""
import contextlib
import copyreg
import pickle
import sys
import types

import numpy as np

CHUMPY_KEYS = ("v_template", "shapedirs", "posedirs", "weights")


class Ch:
    """Pickles like ``chumpy.ch.Ch``: NEWOBJ of the class, then its ``__dict__`` state."""

    def __init__(self, x):
        self.x = np.asarray(x)
        self.dterms = ("x",)
        self._dirty_vars = set()

    def __reduce_ex__(self, protocol):
        return copyreg.__newobj__, (type(self),), dict(self.__dict__)


class csc_matrix:  # noqa: N801  (the real class name)
    """Pickles like an old ``scipy.sparse.csc.csc_matrix`` (state: data, indices, indptr, _shape)."""

    def __init__(self, dense):
        import scipy.sparse
        m = scipy.sparse.csc_matrix(np.asarray(dense))
        self.data, self.indices, self.indptr = m.data, m.indices, m.indptr
        self._shape, self.maxprint, self.format = m.shape, 50, "csc"

    def __reduce_ex__(self, protocol):
        return copyreg.__newobj__, (type(self),), dict(self.__dict__)


@contextlib.contextmanager
def _fake_modules():
    chumpy, chumpy_ch, csc = (types.ModuleType(n) for n in ("chumpy", "chumpy.ch", "scipy.sparse.csc"))
    chumpy_ch.Ch, csc.csc_matrix = Ch, csc_matrix
    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    csc_matrix.__module__, csc_matrix.__qualname__ = "scipy.sparse.csc", "csc_matrix"
    saved = {n: sys.modules.get(n) for n in ("chumpy", "chumpy.ch", "scipy.sparse.csc")}
    sys.modules.update({"chumpy": chumpy, "chumpy.ch": chumpy_ch, "scipy.sparse.csc": csc})
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def write_chumpy_smpl_pickle(path, model):
    """Write ``model`` (dense arrays) as a chumpy-flavoured SMPL pickle at ``path``."""
    data = {}
    for key, value in model.items():
        if key in CHUMPY_KEYS:
            data[key] = Ch(value)
        elif key in ("J_regressor", "cocoplus_regressor"):
            data[key] = csc_matrix(value)
        elif key != "J_regressor_h36m":
            data[key] = value
    with _fake_modules(), open(path, "wb") as handle:
        pickle.dump(data, handle, protocol=2)
    return path
