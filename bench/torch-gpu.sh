#!/usr/bin/env bash
# Builds the GPU benchmark folder of the PyTorch target (run where Node and nvcc are).
# In: optional output folder (default bench/out/torch-gpu). Out: that folder holding
# convnextv2/ (std/convnextv2.nvc built with --target torch; the bench uses convnextv2_base),
# mednvc/ (examples/mednvc.nvc, base variant; the bench uses its fine-tune stage, MED-NVC) and
# torch_gpu.py. Copy the folder to a CUDA machine with Python and torch and run there
# `python3 torch_gpu.py --steps 50` (no Node needed); see docs/runtime-performance.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/bench/out/torch-gpu}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
cd "$root"
node bin/nvcc.js build std/convnextv2.nvc --target torch --out "$out/convnextv2"
node bin/nvcc.js build examples/mednvc.nvc --target torch --out "$out/mednvc"
cp bench/torch_gpu.py "$out/torch_gpu.py"
echo "ready: $out (copy it to the GPU machine, then: cd $(basename "$out") && python3 torch_gpu.py --steps 50)"
