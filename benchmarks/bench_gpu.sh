#!/usr/bin/env bash
# The GPU figures issue 28 asks for, in one short run (one GPU; F1 needs ../shared/data/f1): training
# seconds a step, rows a second and the share of time the steps wait for their batches, at batch
# 4,096, for the trainer with device moves only (batches built on the CPU by the step), batches built
# ahead in a thread, and batches built on the device; then device batches at 16,384 seed rows.
# Results are merged into benchmarks/results/step_cost.json by label.
#
#   bash benchmarks/bench_gpu.sh            # about 10 minutes where the data are prepared in 1
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-.venv/bin/python}
steps=${STEPS:-200}
threads=${THREADS:-8}
run() { "$py" benchmarks/bench_step_cost.py --device cuda --threads "$threads" --steps "$steps" "$@"; }
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
run --label gpu-4096-moves --batch-size 4096 --no-prefetch --no-device-batches
run --label gpu-4096-ahead --batch-size 4096 --prefetch --no-device-batches
run --label gpu-4096-device --batch-size 4096 --no-prefetch --device-batches
run --label gpu-16384-device --batch-size 16384 --no-prefetch --device-batches
