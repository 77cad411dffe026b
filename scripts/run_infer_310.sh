#!/usr/bin/env bash
# Inference with an exported graph: compile -> preprocess -> infer -> postprocess (acc.log).
# Usage: bash scripts/run_infer_310.sh MINDIR [DATASET] [DATA_PATH] [DEVICE_ID] [--device ascend|lite-cpu|cpu] [--KEY VALUE ...]
#   MINDIR     graph from export.py (Ascend 310 and lite-cpu need a static batch: --export_batch_size N;
#              an .onnx file works with --device lite-cpu and cpu)
#   DATASET    h36m-p1|h36m-p2|mpi-inf-3dhp|3dpw|synthetic (default: config.yaml's dataset)
#   DATA_PATH  folder with the test file and body model (default: config.yaml's data_path)
#   DEVICE_ID  Ascend device (default 0)
#   --device   ascend: the C++ runner (ascend310_infer/out/main); lite-cpu: the same C++ runner on
#              the CPU through MindSpore Lite, on the MindIR that Lite's converter makes from the
#              graph's ONNX twin (MindSpore 2.10's MindIR is version 3, Lite 2.0.0 reads version 1);
#              cpu: the Python fallback (onnxruntime / GraphCell) on the same .bin files.
#              Default: ascend when an Ascend driver is found, else cpu.
# Work folder: <output_path>/infer/ (preprocess_Result/, result_Files/, time_Result/, acc.log).
set -euo pipefail
usage="usage: bash scripts/run_infer_310.sh MINDIR [DATASET] [DATA_PATH] [DEVICE_ID] [--device ascend|lite-cpu|cpu] [--KEY VALUE ...]"
if [ $# -lt 1 ] || [ "${1#--}" != "$1" ]; then echo "$usage" >&2; exit 2; fi
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
[ -f "$1" ] || { echo "error: MINDIR not found: $1" >&2; exit 2; }
model="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; shift
positional=(); device=""; extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --device) [ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }; device="$2"; shift 2 ;;
        --device=*) device="${1#--device=}"; shift ;;
        --*) [ $# -ge 2 ] || { echo "error: $1 needs a value" >&2; exit 2; }; extra+=("$1" "$2"); shift 2 ;;
        *) positional+=("$1"); shift ;;
    esac
done
[ ${#positional[@]} -le 3 ] || { echo "$usage" >&2; exit 2; }
args=(--model_file "$model")
if [ ${#positional[@]} -ge 1 ]; then args+=(--dataset "${positional[0]}"); fi
if [ ${#positional[@]} -ge 2 ]; then
    [ -d "${positional[1]}" ] || { echo "error: DATA_PATH is not a folder: ${positional[1]}" >&2; exit 2; }
    args+=(--data_path "$(cd "${positional[1]}" && pwd)")
fi
device_id="${positional[2]:-0}"
[[ "$device_id" =~ ^[0-9]+$ ]] || { echo "error: DEVICE_ID must be a number, got $device_id" >&2; exit 2; }
if [ ${#positional[@]} -lt 1 ]; then
    echo "run_infer_310.sh: no DATASET given: using config.yaml's dataset and data_path, device $device_id" >&2
fi
if [ -z "$device" ]; then
    if [ -d /usr/local/Ascend/driver ] || command -v npu-smi > /dev/null 2>&1; then device=ascend; else device=cpu; fi
    echo "run_infer_310.sh: device $device (detected; pass --device to choose)" >&2
fi
case "$device" in ascend|lite-cpu|cpu) ;; *) echo "error: --device must be ascend, lite-cpu or cpu, got $device" >&2; exit 2;; esac
out_root="$ROOT/output"
for i in "${!extra[@]}"; do
    if [ "${extra[$i]}" = "--output_path" ]; then out_root="${extra[$((i + 1))]}"; fi
done
bash "$ROOT/scripts/setup.sh"
if [ "$device" != cpu ]; then    # the C++ runner binds one input shape: refuse a dynamic-batch graph
    python - "$model" <<'PY' || exit 2
import json, os, sys
model = sys.argv[1]
info = json.load(open(model + ".json")) if os.path.isfile(model + ".json") else {}
if "batch" in info and not info["batch"]:
    ckpt = info.get("checkpoint") or "CKPT"
    sys.exit(f"error: {model} has a dynamic batch; the Ascend 310 runner needs a static one: "
             f"python export.py --checkpoint_file_path {ckpt} --export_batch_size 1")
PY
fi
work="$(mkdir -p "$out_root/infer" && cd "$out_root/infer" && pwd)"
rm -rf "$work/preprocess_Result" "$work/result_Files" "$work/time_Result"
cd "$ROOT"
export DEVICE_ID="$device_id"
python preprocess.py "${args[@]}" "${extra[@]}" --infer_input_path "$work/preprocess_Result"
if [ "$device" != cpu ]; then
    bash "$ROOT/ascend310_infer/build.sh"
    graph="$model"
    if [ "$device" = lite-cpu ]; then
        onnx="$model"; [ "${model%.onnx}" != "$model" ] || onnx="${model%.*}.onnx"
        [ -f "$onnx" ] || { echo "error: --device lite-cpu needs the ONNX twin of $model ($onnx): export.py --onnx_twin true" >&2; exit 2; }
        [ -x "$ROOT/ascend310_infer/out/convert_model" ] || {
            echo "error: this MindSpore SDK has no Lite converter (lib/libmindspore_converter.so); use --device cpu" >&2; exit 2; }
        mkdir -p "$work/lite"; rm -f "$work/lite/hmr.mindir"     # Lite writes it read-only
        "$ROOT/ascend310_infer/out/convert_model" "$onnx" "$work/lite/hmr" > "$work/lite/convert.log" 2>&1 || {
            grep -v "^\[WARNING" "$work/lite/convert.log" | tail -15 >&2; exit 1; }
        graph="$work/lite/hmr.mindir"
    fi
    # the graph's inputs after the images (the architecture's extra inputs), one folder each, in order
    extras="$(python -c 'import json, sys; m = json.load(open(sys.argv[1])); print(",".join(sys.argv[2] + "/" + n for n in m.get("inputs", ["images"])[1:]))' \
        "$work/preprocess_Result/preprocess.json" "$work/preprocess_Result")"
    extra_flags=(); [ -n "$extras" ] && extra_flags=(--extra_input_paths="$extras")
    target=(--device_id="$device_id"); [ "$device" = lite-cpu ] && target+=(--device=cpu)
    "$ROOT/ascend310_infer/out/main" --mindir_path="$graph" --input_path="$work/preprocess_Result/images" \
        "${extra_flags[@]}" --result_path="$work/result_Files" --time_path="$work/time_Result" "${target[@]}"
else
    python -m src.deployment.infer_cpu "${args[@]}" "${extra[@]}" --infer_input_path "$work/preprocess_Result" \
        --result_path "$work/result_Files"
fi
python postprocess.py "${args[@]}" "${extra[@]}" --result_path "$work/result_Files" \
    --infer_input_path "$work/preprocess_Result" --output_path "$work"
echo "run_infer_310.sh: $work/acc.log" >&2
cat "$work/acc.log"
