"""Deployment: graph export (``export.py``), prediction backends (checkpoint, MINDIR, ONNX,
result files), the ``.bin`` exchange with the C++ runner and its CPU fallback."""
