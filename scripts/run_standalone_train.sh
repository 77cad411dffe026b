#!/usr/bin/env bash
# Train HMR on one device.
# Usage: bash scripts/run_standalone_train.sh DATA_PATH [CKPT] [--KEY VALUE ...]
#   DATA_PATH  HMR_DATA folder (body model, dataset npz files), absolute or relative to the caller's folder
#   CKPT       optional weights to start from (e.g. converted ImageNet ResNet-50), likewise
# Outputs: output/<run_name>/ (checkpoints, train_log.jsonl, log.txt, config.yaml). Add --resume true to continue.
set -euo pipefail
usage="usage: bash scripts/run_standalone_train.sh DATA_PATH [CKPT] [--KEY VALUE ...]"
if [ $# -lt 1 ] || [ "${1#--}" != "$1" ]; then echo "$usage" >&2; exit 2; fi
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
[ -d "$1" ] || { echo "error: DATA_PATH is not a folder: $1" >&2; exit 2; }
args=(--data_path "$(cd "$1" && pwd)"); shift        # absolute: the script runs from the project folder
if [ $# -ge 1 ] && [ "${1#--}" = "$1" ]; then
    [ -f "$1" ] || { echo "error: CKPT not found: $1" >&2; exit 2; }
    args+=(--checkpoint_file_path "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"); shift
fi
bash "$ROOT/scripts/setup.sh"
# the training command (tests replace it to inspect what it is given)
read -r -a train_cmd <<< "${HMR_TRAIN_COMMAND:-python $ROOT/train.py}"
cd "$ROOT"
"${train_cmd[@]}" "${args[@]}" "$@"
