#!/usr/bin/env bash
# Train HMR on one device.
# Usage: bash scripts/run_standalone_train.sh DATA_PATH [CKPT] [--KEY VALUE ...]
#   DATA_PATH  HMR_DATA folder (body model, dataset npz files)
#   CKPT       optional weights to start from (e.g. converted ImageNet ResNet-50)
# Outputs: output/<run_name>/ (checkpoints, train_log.jsonl, log.txt, config.yaml). Add --resume true to continue.
set -euo pipefail
if [ $# -lt 1 ] || [ "${1#--}" != "$1" ]; then
    echo "usage: bash scripts/run_standalone_train.sh DATA_PATH [CKPT] [--KEY VALUE ...]" >&2
    exit 2
fi
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
data_path="$1"; shift
args=(--data_path "$data_path")
if [ $# -ge 1 ] && [ "${1#--}" = "$1" ]; then
    args+=(--checkpoint_file_path "$1"); shift
fi
[ -d "$data_path" ] || { echo "error: DATA_PATH is not a folder: $data_path" >&2; exit 2; }
bash "$ROOT/scripts/setup.sh"
cd "$ROOT"
python train.py "${args[@]}" "$@"
