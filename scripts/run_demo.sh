#!/usr/bin/env bash
# The main job on the embedded default: set up, build the synthetic body model and pose/render it.
# Usage: bash scripts/run_demo.sh [--KEY VALUE ...]     (any config.yaml key)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
bash "$ROOT/scripts/setup.sh"
cd "$ROOT"
python -m src.synthetic.preview "$@"
echo "demo outputs: $ROOT/output/demo (summary.json, bodies.png, template.obj)"
