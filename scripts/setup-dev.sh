#!/usr/bin/env bash
# Set up a development environment from scratch: headless Chromium (for the report rendering test,
# from Debian's packages when run as root), then a virtual environment with dbtwin, its test and
# dataset, benchmark and prediction extras, and the CPU build of PyTorch pinned by constraints.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
python3 -m venv .venv
.venv/bin/pip install -q -c constraints.txt -e '.[dev,datasets,bench,predict]'
