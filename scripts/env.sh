# Sourced by the scripts: project root, the venv's python first on PATH, imports from the root.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${HMR_VENV:-$ROOT/.venv}"
export PATH="$VENV/bin:$PATH"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
# The oneDNN ISA cap (see model_utils/device_adapter.py) is applied by every Python entry
# point before MindSpore loads; exporting ONEDNN_MAX_CPU_ISA yourself overrides it.
