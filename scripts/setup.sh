#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install what the project needs.
# Idempotent: a requirements file whose content has not changed since its last install is skipped.
# Usage: bash scripts/setup.sh [--test]     (--test adds requirements-test.txt: pytest, torch, smplx)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${HMR_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup] creating $VENV with $($PYTHON --version 2>&1)"
    "$PYTHON" -m venv "$VENV"
fi

install_once() {  # install a requirements file unless the same content was installed before
    local req="$ROOT/$1" stamp
    stamp="$VENV/.installed-$(basename "$1").sha256"
    if [ -f "$stamp" ] && sha256sum --status -c "$stamp" 2>/dev/null; then
        return 0
    fi
    echo "[setup] installing $1 (first time, or it changed)"
    # (this machine's pip config names local mirrors that may not hold every package: drop that noise)
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" 2>&1 \
        | { grep -v "is ignored: it is neither a file nor a directory" || true; }
    [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "[setup] pip install -r $1 failed" >&2; exit 1; }
    (cd "$ROOT" && sha256sum "$1") | sed "s#  #  $ROOT/#" > "$stamp"
}

install_once requirements.txt
if [ "${1:-}" = "--test" ]; then
    install_once requirements-test.txt
fi

# The person detector's two models ship inside the mediapipe wheel; mediapipe itself is not
# installed (it pins protobuf<5, MindSpore needs protobuf>=7). Not fatal when offline: only
# demo.py without --bbox needs them.
MODELS="$ROOT/models/mediapipe"
if [ ! -f "$MODELS/pose_detection.tflite" ] || [ ! -f "$MODELS/pose_landmark_full.tflite" ]; then
    echo "[setup] fetching the person detector models (mediapipe==0.10.14 wheel, about 35 MB)"
    cache="$ROOT/models/.wheel"
    mkdir -p "$cache" "$MODELS"
    if "$VENV/bin/python" -m pip download --quiet --no-deps --disable-pip-version-check mediapipe==0.10.14 -d "$cache" \
            2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }; then
        "$VENV/bin/python" - "$cache" "$MODELS" <<'PY'
import glob, os, sys, zipfile
wheel = sorted(glob.glob(os.path.join(sys.argv[1], "mediapipe-0.10.14-*.whl")))[-1]
with zipfile.ZipFile(wheel) as archive:
    for member in ("mediapipe/modules/pose_detection/pose_detection.tflite",
                   "mediapipe/modules/pose_landmark/pose_landmark_full.tflite"):
        with open(os.path.join(sys.argv[2], os.path.basename(member)), "wb") as out:
            out.write(archive.read(member))
PY
        rm -rf "$cache"
    else
        echo "[setup] warning: could not download mediapipe==0.10.14; demo.py needs --bbox without it" >&2
    fi
fi

# The test suite's real street footage: examples/data/vtest.avi of Debian's opencv-doc package
# (768x576, 795 frames of pedestrians). Only the one file is kept; not fatal when offline (the
# video test then says what is missing).
MEDIA="$ROOT/models/media"
if [ "${1:-}" = "--test" ] && [ ! -f "$MEDIA/vtest.avi" ]; then
    echo "[setup] fetching vtest.avi (Debian package opencv-doc, about 95 MB)"
    work="$(mktemp -d)"
    if (cd "$work" && apt-get download opencv-doc >/dev/null 2>&1); then
        mkdir -p "$MEDIA" "$work/x"
        dpkg-deb --fsys-tarfile "$work"/opencv-doc_*.deb | tar -x -C "$work/x" --wildcards '*/vtest.avi' || true
        found="$(find "$work/x" -name vtest.avi | head -n 1)"
        if [ -n "$found" ]; then
            cp "$found" "$MEDIA/vtest.avi.part" && mv "$MEDIA/vtest.avi.part" "$MEDIA/vtest.avi"
        else
            echo "[setup] warning: opencv-doc holds no vtest.avi" >&2
        fi
    else
        echo "[setup] warning: could not download the opencv-doc package (apt-get download opencv-doc)" >&2
    fi
    rm -rf "$work"
fi
