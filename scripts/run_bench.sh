#!/usr/bin/env bash
# Benchmarks, each side by side with a reference in the same run (ratios are what count).
# Usage: bash scripts/run_bench.sh smpl|train|data|infer|demo|adapt|isa|video|all
#   smpl   SMPL forward ms at batch 1 and 64: this project (graph and pynative) vs smplx (PyTorch)
#   train  training step at batch 8: HMR (float32 and amp_level O2) vs bare ResNet-50 (this project) vs HMR in PyTorch eager; CLIFF; HMR 2.0 ViT-B and HAP 3D (3DCrowdNet ViT-B) vs PyTorch; HybrIK HRNet-W48 vs PyTorch
#   data   training-pipeline samples/s (1 and 2 workers, 224 px) vs what the batch-8 HMR step consumes
#   infer  per-image inference latency: checkpoint (graph mode) vs MINDIR (GraphCell) vs ONNX (onnxruntime); HMR 2.0 ViT-B and HybrIK HRNet-W48 vs PyTorch
#   demo   image demo stages on a real photo: detection, landmarks, HMR, refinement
#   adapt  Meta-HMR test-time adaptation (1 + 14 steps) vs the network forward vs 30 refinement steps
#   isa    convolution net forward with oneDNN capped at AVX2 vs oneDNN's own choice
#   video  video demo stages on 100 frames of vtest.avi, ms per frame, and frames/s vs the video's rate
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
what="${1:-all}"
case "$what" in smpl|train|data|infer|demo|adapt|isa|video|all) ;; *) echo "usage: bash scripts/run_bench.sh smpl|train|data|infer|demo|adapt|isa|video|all" >&2; exit 2;; esac
bash "$ROOT/scripts/setup.sh" --test
cd "$ROOT"
if [ "$what" = smpl ] || [ "$what" = all ]; then python -m tests.benchmarks.bench_smpl; fi
if [ "$what" = train ] || [ "$what" = all ]; then python -m tests.benchmarks.bench_train; fi
if [ "$what" = data ] || [ "$what" = all ]; then python -m tests.benchmarks.bench_data; fi
if [ "$what" = infer ] || [ "$what" = all ]; then python -m tests.benchmarks.bench_infer; fi
if [ "$what" = demo ] || [ "$what" = all ]; then python -m tests.benchmarks.bench_demo; fi
if [ "$what" = adapt ] || [ "$what" = all ]; then python -m tests.benchmarks.bench_adapt; fi
if [ "$what" = isa ] || [ "$what" = all ]; then python -m tests.benchmarks.bench_isa; fi
if [ "$what" = video ] || [ "$what" = all ]; then python -m tests.benchmarks.bench_video; fi
