#!/usr/bin/env bash
# Set up the environment (with the test extras) and run the test suite.
# Usage: bash scripts/run_tests.sh [pytest arguments]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
bash "$ROOT/scripts/setup.sh" --test
cd "$ROOT"
python -m pytest "$@"
