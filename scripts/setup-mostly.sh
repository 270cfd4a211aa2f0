#!/usr/bin/env bash
# Set up MOSTLY AI's open-source SDK (local mode, CPU) in an environment of its own, .venv-mostly, for
# the benchmark's 'mostlyai' method: it pins packages dbtwin does not need, and PyPI's torchvision and
# torchaudio, which it pulls, fail to import beside the CPU build of torch, so they are removed.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-mostly
.venv-mostly/bin/pip install -q -c constraints.txt torch==2.13.0 'mostlyai[local]==6.2.0' pyarrow
.venv-mostly/bin/pip uninstall -y -q torchvision torchaudio || true
.venv-mostly/bin/python -c "from mostlyai.sdk import MostlyAI; print('MOSTLY AI is ready in .venv-mostly')"
