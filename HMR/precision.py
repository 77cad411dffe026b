"""Mixed precision of a Cell by MindSpore's AMP levels, in place (parameter names unchanged).

``mindspore.amp.auto_mixed_precision`` wraps the network (O2/O3: ``_OutputTo32``; its black-list
cells: ``_OutputTo16``), which renames every parameter under a wrapper and so would change the
names checkpoints store. This sets each sub-cell's compute type with ``Cell.to_float`` instead,
following the same lists (``mindspore.amp.get_white_list`` / ``get_black_list``):

- ``O0``: float32 everywhere;
- ``O1``: the white-list cells (convolutions, Dense) compute in float16, all else float32;
- ``O2``: everything float16 except the black-list cells (BatchNorm, LayerNorm) in float32;
- ``O3``: everything float16.

A float16 cell casts its inputs and parameters to float16; the parameters stay float32 (the
optimiser updates float32 master weights). The cell's outputs are float16: callers cast what
leaves the mixed-precision part (``HMR.model.HMR`` does for its encoder and regressor).
"""
from mindspore import nn
import mindspore as ms

AMP_LEVELS = ("O0", "O1", "O2", "O3")


def _cells_of(cell, types):
    return [sub for _, sub in cell.cells_and_names() if isinstance(sub, types)]


def set_cell_precision(cell, level):
    """Set the compute type of ``cell``'s sub-cells for AMP ``level`` (see the module docstring)."""
    if level not in AMP_LEVELS:
        raise ValueError(f"amp level must be one of {AMP_LEVELS}, got {level!r}")
    if level == "O0":
        return cell
    white = tuple(t for t in ms.amp.get_white_list() if issubclass(t, nn.Cell))
    black = tuple(ms.amp.get_black_list())
    if level == "O1":
        cell.to_float(ms.float32)
        for sub in _cells_of(cell, white):
            sub.to_float(ms.float16)
    else:
        cell.to_float(ms.float16)
        if level == "O2":
            for sub in _cells_of(cell, black):
                sub.to_float(ms.float32)
    return cell


def set_model_precision(model, level):
    """A model's ``encoder`` and ``regressor`` at AMP ``level``, the level kept in ``model.amp_level`` (the
    models cast their outputs back with :func:`as_float32`). Returns ``model``."""
    set_cell_precision(model.encoder, level)
    set_cell_precision(model.regressor, level)
    model.amp_level = level
    return model


def as_float32(level, *tensors):
    """``tensors`` cast to float32 unless ``level`` is O0 (where they already are); a tuple."""
    if level == "O0":
        return tensors
    return tuple(t.astype(ms.float32) for t in tensors)
