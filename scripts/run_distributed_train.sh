#!/usr/bin/env bash
# Data-parallel training.
# Usage: bash scripts/run_distributed_train.sh RANK_TABLE_FILE DATA_PATH [CKPT] [--KEY VALUE ...]   (Ascend, HCCL)
#        bash scripts/run_distributed_train.sh --msrun N [--nodes K --node_rank R --master_addr HOST --master_port PORT]
#             DATA_PATH [CKPT] [--KEY VALUE ...]                                                (GPU/CPU, msrun)
# The rank-table form starts one train.py per device of this host listed in the table, with
# RANK_TABLE_FILE, RANK_SIZE, RANK_ID and DEVICE_ID exported, each logging to
# <output_path>/rank_<i>/log.txt (run from the project tree; nothing is copied). The msrun form
# starts N local workers (msrun ships with MindSpore; add --device_target GPU on GPU servers); on K machines,
# run it on each with --nodes K, its --node_rank (0 on the machine at --master_addr, which also runs msrun's
# scheduler) and the same --master_addr/--master_port: K x N workers, global ranks node by node, logs in
# <output_path>/msrun_logs/node_<R>/ (the output folder may be shared).
# Ctrl-C stops every rank. Resume with --resume true as on one device. Learning rates are not
# rescaled with the number of devices (see src/training/distributed.py).
set -euo pipefail
usage="usage: bash scripts/run_distributed_train.sh RANK_TABLE_FILE DATA_PATH [CKPT] [--KEY VALUE ...]
       bash scripts/run_distributed_train.sh --msrun N [--nodes K --node_rank R --master_addr HOST --master_port PORT] DATA_PATH [CKPT] [--KEY VALUE ...]"
if [ $# -lt 2 ]; then echo "$usage" >&2; exit 2; fi
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
mode=ranktable
if [ "$1" = "--msrun" ]; then
    mode=msrun; workers="$2"; shift 2
    [[ "$workers" =~ ^[1-9][0-9]*$ ]] || { echo "error: --msrun needs a number of workers, got $workers" >&2; exit 2; }
    nodes=1; node_rank=0; master_addr=""; master_port=""
    while [ $# -ge 2 ]; do
        case "$1" in
            --nodes) nodes="$2";; --node_rank) node_rank="$2";; --master_addr) master_addr="$2";;
            --master_port) master_port="$2";; *) break;;
        esac
        shift 2
    done
    [[ "$nodes" =~ ^[1-9][0-9]*$ ]] || { echo "error: --nodes needs a number of machines, got $nodes" >&2; exit 2; }
    [[ "$node_rank" =~ ^[0-9]+$ ]] && [ "$node_rank" -lt "$nodes" ] || {
        echo "error: --node_rank must be 0..$((nodes - 1)), got $node_rank" >&2; exit 2; }
    if [ "$nodes" -gt 1 ] && { [ -z "$master_addr" ] || [ -z "$master_port" ]; }; then
        echo "error: --nodes $nodes needs --master_addr and --master_port (the same on every node)" >&2; exit 2
    fi
else
    [ -f "$1" ] || { echo "error: RANK_TABLE_FILE not found: $1" >&2; exit 2; }
    rank_table="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; shift
fi
[ $# -ge 1 ] && [ "${1#--}" = "$1" ] || { echo "$usage" >&2; exit 2; }
[ -d "$1" ] || { echo "error: DATA_PATH is not a folder: $1" >&2; exit 2; }
data_path="$(cd "$1" && pwd)"; shift
args=(--distributed true --data_path "$data_path")
if [ $# -ge 1 ] && [ "${1#--}" = "$1" ]; then
    [ -f "$1" ] || { echo "error: CKPT not found: $1" >&2; exit 2; }
    args+=(--checkpoint_file_path "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"); shift
fi
out_root="$ROOT/output"
rest=("$@")
for i in "${!rest[@]}"; do
    if [ "${rest[$i]}" = "--output_path" ] && [ $((i + 1)) -lt ${#rest[@]} ]; then out_root="${rest[$((i + 1))]}"; fi
done
mkdir -p "$out_root"
out_root="$(cd "$out_root" && pwd)"
args+=(--output_path "$out_root")
bash "$ROOT/scripts/setup.sh"
# the command each rank runs and the launcher (tests replace them to inspect the environment and the command line)
read -r -a train_cmd <<< "${HMR_TRAIN_COMMAND:-python $ROOT/train.py}"
read -r -a msrun_cmd <<< "${HMR_MSRUN_COMMAND:-msrun}"

if [ "$mode" = msrun ]; then
    port="${master_port:-$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
    log_dir="$out_root/msrun_logs"
    [ "$nodes" -gt 1 ] && log_dir="$log_dir/node_$node_rank"
    cd "$ROOT"
    exec "${msrun_cmd[@]}" --worker_num=$((workers * nodes)) --local_worker_num="$workers" --node_rank="$node_rank" \
        --master_addr="${master_addr:-127.0.0.1}" --master_port="$port" --join=True --log_dir="$log_dir" \
        "${train_cmd[@]}" "${args[@]}" "$@"
fi

table="$(python -m model_utils.rank_table "$rank_table")"
args=(--device_target Ascend "${args[@]}")          # HCCL rank tables are Ascend jobs (override with --device_target)
export RANK_TABLE_FILE="$rank_table"
export RANK_SIZE="$(head -n 1 <<< "$table")"
pids=()
stop_all() {
    trap - INT TERM
    echo "run_distributed_train.sh: stopping ${#pids[@]} rank(s)" >&2
    for pid in "${pids[@]}"; do kill -- "-$pid" 2> /dev/null || kill "$pid" 2> /dev/null || true; done
    wait || true
    exit 130
}
trap stop_all INT TERM
while read -r rank device; do
    [ -n "$rank" ] || continue
    mkdir -p "$out_root/rank_$rank"
    echo "run_distributed_train.sh: rank $rank on device $device of $RANK_SIZE, log $out_root/rank_$rank/log.txt" >&2
    (cd "$out_root/rank_$rank" && RANK_ID="$rank" DEVICE_ID="$device" exec setsid "${train_cmd[@]}" "${args[@]}" "$@" \
        > "$out_root/rank_$rank/log.txt" 2>&1) &
    pids+=($!)
done <<< "$(tail -n +2 <<< "$table")"
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
exit "$status"
