#!/usr/bin/env bash
# Set up the environment (with the test extras) and run the test suite.
# Usage: bash scripts/run_tests.sh [--cov] [pytest arguments]
#   --cov   also measure line coverage of HMR/, src/ and model_utils/ (entry-point subprocesses
#           included) and print the report
# Two pytest processes (xdist) by default, each with one CPU thread per kernel (OMP_NUM_THREADS=1:
# on 2 cores, two 1-thread processes ran a convolution loop 1.3x faster than two 2-thread ones).
# HMR_TEST_WORKERS=0 runs one process with every thread; HMR_TEST_WORKERS=N, N processes.
# The run ends with pytest's 30 slowest tests and the total (the budget: README, section "Tests").
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
bash "$ROOT/scripts/setup.sh" --test
cd "$ROOT"
coverage=0
if [ "${1:-}" = "--cov" ]; then
    coverage=1
    shift
fi
workers="${HMR_TEST_WORKERS:-2}"
parallel=()
if [ "$workers" != "0" ]; then
    # whole files per worker (module fixtures - trained checkpoints, exports - are built once), in
    # collection order: tests/conftest.py puts the slowest files first
    parallel=(-n "$workers" --dist loadfile --no-loadscope-reorder)
    export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"     # MindSpore's CPU kernels and torch read it
fi
if [ "$coverage" = 1 ]; then
    export COVERAGE_RCFILE="$ROOT/.coveragerc" COVERAGE_FILE="$ROOT/.coverage_data/coverage"
    rm -rf "$ROOT/.coverage_data" && mkdir -p "$ROOT/.coverage_data"
    status=0
    python -m coverage run -m pytest "${parallel[@]}" "$@" || status=$?
    python -m coverage combine --quiet
    echo "line coverage of HMR/, src/, model_utils/: $(python -m coverage report --format=total --precision=2)%"
    echo "(per file: python -m coverage report, with COVERAGE_FILE=$COVERAGE_FILE)"
    exit "$status"
fi
python -m pytest "${parallel[@]}" "$@"
