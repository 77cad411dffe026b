#!/usr/bin/env bash
# Evaluate HMR on a benchmark protocol.
# Usage: bash scripts/run_eval.sh [DATA_PATH] [CKPT] [--KEY VALUE ...]
#   DATA_PATH  folder with the test files and body model (default: config.yaml's data_path,
#              the embedded default written by run_demo.sh)
#   CKPT       checkpoint to evaluate (default: the newest *.ckpt under output/, or --output_path)
#   --dataset h36m-p1|h36m-p2|mpi-inf-3dhp|3dpw|synthetic, --source mindir --model_file F, ...
# The training run's config.yaml beside the checkpoint is used (architecture, crop size,
# normalisation) unless --config_path is given. Writes output/eval/metrics.json and breakdown.md.
set -euo pipefail
usage="usage: bash scripts/run_eval.sh [DATA_PATH] [CKPT] [--KEY VALUE ...]"
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
args=()
if [ $# -ge 1 ] && [ "${1#--}" = "$1" ]; then
    [ -d "$1" ] || { echo "error: DATA_PATH is not a folder: $1" >&2; echo "$usage" >&2; exit 2; }
    args+=(--data_path "$(cd "$1" && pwd)"); shift
fi
ckpt=""
if [ $# -ge 1 ] && [ "${1#--}" = "$1" ]; then
    [ -f "$1" ] || { echo "error: CKPT is not a file: $1" >&2; exit 2; }
    ckpt="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; shift
fi
out_root="$ROOT/output"
rest=("$@")
for i in "${!rest[@]}"; do
    if [ "${rest[$i]}" = "--output_path" ] && [ $((i + 1)) -lt ${#rest[@]} ]; then out_root="${rest[$((i + 1))]}"; fi
done
if [ -z "$ckpt" ] && [[ " $* " != *" --source "* ]]; then
    ckpt="$(find "$out_root" -name '*.ckpt' -printf '%T@ %p\n' 2>/dev/null | sort -n | tail -1 | cut -d' ' -f2-)"
    [ -n "$ckpt" ] || { echo "error: no checkpoint under $out_root; pass CKPT (or train first)" >&2; exit 2; }
    echo "run_eval.sh: evaluating the newest checkpoint $ckpt" >&2
fi
if [ -n "$ckpt" ]; then
    if [[ " $* " != *" --config_path "* ]] && [ -f "$(dirname "$ckpt")/config.yaml" ]; then
        echo "run_eval.sh: with its run's configuration $(dirname "$ckpt")/config.yaml" >&2
        args=(--config_path "$(dirname "$ckpt")/config.yaml" "${args[@]}")
    fi
    args+=(--checkpoint_file_path "$ckpt")
fi
bash "$ROOT/scripts/setup.sh"
cd "$ROOT"
python eval.py "${args[@]}" "$@"
