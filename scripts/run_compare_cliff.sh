#!/usr/bin/env bash
# CLIFF against HMR on the embedded default's full frames (same encoder, data and steps), on a CPU.
# Usage: bash scripts/run_compare_cliff.sh [--KEY VALUE ...]      (any config.yaml key)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
bash "$ROOT/scripts/setup.sh"
cd "$ROOT"
python -m src.main_job.compare_cliff --config_path src/main_job/demo_config.yaml "$@"
echo "comparison: $ROOT/output/cliff_vs_hmr/summary.json"
