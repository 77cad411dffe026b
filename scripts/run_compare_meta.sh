#!/usr/bin/env bash
# Meta-HMR on the embedded default: meta-training and test-time adaptation against the plain model, on a CPU.
# Usage: bash scripts/run_compare_meta.sh [--KEY VALUE ...]      (any config.yaml key)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
bash "$ROOT/scripts/setup.sh"
cd "$ROOT"
python -m src.main_job.compare_meta --config_path src/main_job/demo_config.yaml --regressor_iterations 10 "$@"
echo "comparison: $ROOT/output/meta_vs_plain/summary.json"
