#!/usr/bin/env bash
# The main job on the embedded default, on a CPU: set up, build the synthetic body model and
# datasets, evaluate the untrained model, train, evaluate again, render the body model.
# Usage: bash scripts/run_demo.sh [--KEY VALUE ...]      (any config.yaml key)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
bash "$ROOT/scripts/setup.sh"
cd "$ROOT"
python -m src.main_job.run --config_path src/main_job/demo_config.yaml "$@"
echo "demo outputs: $ROOT/output/demo/summary.json (metrics), $ROOT/output/demo/bodies.png, checkpoints in $ROOT/output/demo_train/"
