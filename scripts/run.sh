#!/usr/bin/env bash
# Installs deploykit into a virtual environment (outside the clone) and runs the main job: what is this machine,
# and what can it serve.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${DEPLOYKIT_VENV:-$HOME/.cache/deploykit/venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q .
"$VENV/bin/deploykit" detect
"$VENV/bin/deploykit" plan "$@"
