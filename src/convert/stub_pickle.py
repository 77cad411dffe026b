"""A ``pickle_module`` for ``torch.load`` that builds tensors and plain containers and nothing else.

A Lightning checkpoint pickles, beside its ``state_dict``, the objects of the training run (a yacs
``CfgNode`` of hyper-parameters, callback states). ``weights_only=True`` refuses such a file, and
unpickling it normally would import - and run - whatever those classes are. Here every class outside
torch, numpy and a few builtins becomes an inert stand-in (:class:`Stub`, a dict that ignores its
state), so the weights are read and no foreign code runs.
"""
import pickle

ALLOWED_MODULES = ("torch", "numpy", "collections")
ALLOWED_GLOBALS = {("builtins", n) for n in ("dict", "list", "tuple", "set", "frozenset", "int", "float", "str",
                                            "bool", "bytes", "bytearray", "complex", "slice", "range")} | {
    ("copyreg", "_reconstructor"), ("_codecs", "encode"), ("builtins", "object")}


class Stub(dict):
    """Stands in for any class the checkpoint names outside the allowed modules."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def __setstate__(self, state):
        pass

    def __call__(self, *args, **kwargs):
        return Stub()


def _stub_class(module, name):
    return type(name, (Stub,), {"__module__": f"stub:{module}"})


class Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module.split(".")[0] in ALLOWED_MODULES or (module, name) in ALLOWED_GLOBALS:
            return super().find_class(module, name)
        return _stub_class(module, name)


def load(file, **kwargs):
    return Unpickler(file, **kwargs).load()


def loads(data, **kwargs):
    import io
    return Unpickler(io.BytesIO(data), **kwargs).load()


__all__ = ["Unpickler", "load", "loads"]
