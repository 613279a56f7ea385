#!/usr/bin/env bash
# Installs what the tests need (a virtual environment cached outside the clone) and runs them.
# Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${DEPLOYKIT_TEST_VENV:-$HOME/.cache/deploykit/test-venv}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "creating test environment in $VENV" >&2
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip hatchling
"$VENV/bin/python" -m pip install -q -e '.[test]'
exec "$VENV/bin/python" -m pytest -q "$@"
