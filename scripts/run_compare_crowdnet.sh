#!/usr/bin/env bash
# 3DCrowdNet against HMR on the embedded default (same encoder size, data and steps), on a CPU.
# Usage: bash scripts/run_compare_crowdnet.sh [--KEY VALUE ...]      (any config.yaml key)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
bash "$ROOT/scripts/setup.sh"
cd "$ROOT"
python -m src.main_job.compare_crowdnet --config_path src/main_job/demo_config.yaml "$@"
echo "comparison: $ROOT/output/crowdnet_vs_hmr/summary.json"
