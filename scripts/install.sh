#!/usr/bin/env bash
# Install evalkit (editable) into the active Python environment.
#   bash scripts/install.sh          # evalkit and its runtime dependencies
#   bash scripts/install.sh test     # + the test dependencies and the viz extra (MP4, TIDE)
# Where no torch is installed, the CPU build torch==2.13.0 is installed first, so pip does not
# pull several GB of CUDA wheels; an already-installed torch (e.g. a CUDA build) is kept.
set -euo pipefail
PY="${PYTHON:-python}"
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
  "$PY" -m pip install "torch==2.13.0"
fi
extra=""
if [ "${1:-}" = "test" ]; then extra="[test,viz]"; fi
"$PY" -m pip install -e ".${extra}"
