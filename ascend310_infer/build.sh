#!/usr/bin/env bash
# Build the HMR Ascend 310 runner: bash ascend310_infer/build.sh [SDK_DIR] [--test-utils]
# SDK_DIR: a MindSpore C++ SDK (include/api/*.h, lib/libmindspore.so). Without it: the
# MindSpore package of the current Python when it ships the C++ API (Ascend installs), else
# the headers and library of the mindspore-lite 2.0.0 wheel (same mindspore::Model/Context
# API), fetched once into ascend310_infer/third_party/. Leaves the binary at out/main, and
# out/convert_model (ONNX -> Lite's MindIR) where the SDK has Lite's converter library.
# --test-utils builds and runs the utility test only (no SDK needed).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LITE_VERSION=2.0.0
LITE_WHEEL="mindspore_lite-${LITE_VERSION}-cp37-cp37m-manylinux1_x86_64.whl"
sdk=""; utils_only=0
for arg in "$@"; do
    case "$arg" in
        --test-utils) utils_only=1 ;;
        -h|--help) sed -n 2,8p "${BASH_SOURCE[0]}"; exit 0 ;;
        *) sdk="$arg" ;;
    esac
done
build="$HERE/build"
mkdir -p "$build" "$HERE/out"
if [ "$utils_only" = 1 ]; then
    cmake -S "$HERE" -B "$build/utils" -DHMR_UTILS_ONLY=ON > "$build/utils.log"
    cmake --build "$build/utils" -j 2 >> "$build/utils.log"
    exec "$build/utils/test_utils"
fi
has_api() { [ -f "$1/include/api/model.h" ] && [ -d "$1/lib" ]; }
if [ -n "$sdk" ]; then
    has_api "$sdk" || { echo "error: $sdk is not a MindSpore C++ SDK (no include/api/model.h and lib/)" >&2; exit 2; }
else
    py_sdk="$(python - <<'PY' 2>/dev/null || true
import os, mindspore
print(os.path.dirname(mindspore.__file__))
PY
)"
    if [ -n "$py_sdk" ] && has_api "$py_sdk"; then
        sdk="$py_sdk"
    else
        sdk="$HERE/third_party/mindspore_lite"
        if ! has_api "$sdk"; then
            echo "build.sh: no MindSpore C++ SDK found; using the mindspore-lite $LITE_VERSION wheel's API" >&2
            mkdir -p "$HERE/third_party"
            if [ ! -f "$HERE/third_party/$LITE_WHEEL" ]; then
                python -m pip download --no-deps --only-binary=:all: --python-version 3.7 --platform manylinux1_x86_64 \
                    "mindspore-lite==$LITE_VERSION" -d "$HERE/third_party" 2>&1 | grep -v "is ignored" >&2 || true
            fi
            [ -f "$HERE/third_party/$LITE_WHEEL" ] || {
                echo "error: could not fetch $LITE_WHEEL (pip download mindspore-lite==$LITE_VERSION); pass SDK_DIR" >&2
                exit 3; }
            python - "$HERE/third_party/$LITE_WHEEL" "$HERE/third_party" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel:
    wheel.extractall(sys.argv[2], [n for n in wheel.namelist()
                                   if n.startswith(("mindspore_lite/include/", "mindspore_lite/lib/"))])
PY
        fi
    fi
fi
echo "build.sh: MindSpore C++ API from $sdk" >&2
cmake -S "$HERE" -B "$build/main" -DMINDSPORE_PATH="$sdk" > "$build/main.log" 2>&1 || { cat "$build/main.log" >&2; exit 1; }
cmake --build "$build/main" -j 2 >> "$build/main.log" 2>&1 || { tail -40 "$build/main.log" >&2; exit 1; }
cp "$build/main/main" "$HERE/out/main"
echo "build.sh: built $HERE/out/main" >&2
rm -f "$HERE/out/convert_model"
if [ -f "$build/main/convert_model" ]; then    # only where the SDK has MindSpore Lite's converter
    cp "$build/main/convert_model" "$HERE/out/convert_model"
    echo "build.sh: built $HERE/out/convert_model" >&2
fi
