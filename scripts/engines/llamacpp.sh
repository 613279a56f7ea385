#!/usr/bin/env bash
# Creates (once) a virtual environment holding llama-cpp-python's OpenAI-compatible server, kept apart from
# deploykit's own environment.
#
#   bash scripts/engines/llamacpp.sh        # prints the venv's python path on stdout; progress goes to stderr
#
# The venv then serves a GGUF with:
#   "$PY" -m llama_cpp.server --model FILE --host 127.0.0.1 --port P --chat_format gemma --n_ctx 2048
#
# llama-cpp-python ships as an sdist: pip compiles llama.cpp from source (gcc + cmake needed; about 6.5 minutes on
# 2 cores). CMAKE_BUILD_PARALLEL_LEVEL defaults to the number of cores; CMAKE_ARGS is passed through unchanged
# (e.g. CMAKE_ARGS="-DGGML_NATIVE=OFF" for a build that is not tied to this CPU).
#
# Location: ${DEPLOYKIT_ENGINES_DIR:-$HOME/.cache/deploykit/engines}/llamacpp
# A stamp file inside the venv records what was installed. It is written last, after an import check, so a
# half-finished install never looks complete; a stamp that does not match the wanted versions triggers a rebuild
# from scratch. With a matching stamp the script is a fast no-op.
#
# Environment:
#   DEPLOYKIT_ENGINES_DIR   parent folder of the engine venvs
#   DEPLOYKIT_ENGINE_PYTHON interpreter used to create the venv (default python3.11)
set -euo pipefail

LLAMA_CPP_PYTHON_VERSION="0.3.36"
STAMP_FORMAT=1

ENGINES_DIR="${DEPLOYKIT_ENGINES_DIR:-$HOME/.cache/deploykit/engines}"
VENV="$ENGINES_DIR/llamacpp"
PY="$VENV/bin/python"
STAMP="$VENV/.deploykit-engine-stamp"
BASE_PYTHON="${DEPLOYKIT_ENGINE_PYTHON:-python3.11}"

log() { echo "llamacpp.sh: $*" >&2; }
die() { echo "llamacpp.sh: error: $*" >&2; exit 1; }

want_stamp() {   # $1: python major.minor
  printf '%s' "format=$STAMP_FORMAT
python=$1
llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION"
}

stamp_ok() {
  [ -f "$STAMP" ] && [ -x "$PY" ] || return 1
  local ver
  ver="$(sed -n 's/^python=//p' "$STAMP")"
  [ -n "$ver" ] && [ "$(cat "$STAMP")" = "$(want_stamp "$ver")" ]
}

# Fast path: no lock, no pip, no import.
if stamp_ok; then
  echo "$PY"
  exit 0
fi

mkdir -p "$ENGINES_DIR" || die "cannot create $ENGINES_DIR"

# One builder at a time; a second caller waits, then finds the stamp.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$ENGINES_DIR/.llamacpp.lock"
  log "taking lock $ENGINES_DIR/.llamacpp.lock"
  flock 9 || die "cannot lock $ENGINES_DIR/.llamacpp.lock"
  if stamp_ok; then
    echo "$PY"
    exit 0
  fi
fi

command -v "$BASE_PYTHON" >/dev/null 2>&1 || die "$BASE_PYTHON not found (set DEPLOYKIT_ENGINE_PYTHON)"
base_ver="$("$BASE_PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
  || die "$BASE_PYTHON does not run"
WANT_STAMP="$(want_stamp "$base_ver")"

for tool in cmake cc c++; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found; llama-cpp-python compiles llama.cpp from source"
done

if [ -e "$VENV" ]; then
  if [ -f "$STAMP" ]; then
    log "stamp in $VENV does not match the wanted versions; rebuilding"
  else
    log "$VENV has no valid stamp (unfinished or foreign install); rebuilding"
  fi
  rm -f "$STAMP"
  rm -rf "$VENV" || die "cannot remove $VENV"
fi

log "creating venv $VENV with $BASE_PYTHON (Python $base_ver)"
"$BASE_PYTHON" -m venv "$VENV" || die "venv creation failed"

PIP=("$PY" -m pip --disable-pip-version-check)

log "upgrading pip"
"${PIP[@]}" install -q --upgrade pip >&2 || die "pip upgrade failed"

jobs="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}"
log "installing llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION (compiles llama.cpp with $jobs jobs; about 6.5 minutes on 2 cores)"
start=$SECONDS
CMAKE_BUILD_PARALLEL_LEVEL="$jobs" "${PIP[@]}" install --progress-bar off \
  "llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION" >&2 \
  || die "pip install failed (the llama.cpp build needs gcc, g++ and cmake)"
log "installed in $((SECONDS - start)) s"

log "checking imports"
"$PY" - >&2 <<PYEOF || die "import check failed in $VENV"
import importlib.metadata as md
import llama_cpp
import llama_cpp.server.app, llama_cpp.server.settings  # the [server] extra: fastapi, uvicorn, sse-starlette...
assert md.version("llama-cpp-python") == "$LLAMA_CPP_PYTHON_VERSION", md.version("llama-cpp-python")
print("llama-cpp-python", llama_cpp.__version__, "system info:", llama_cpp.llama_print_system_info().decode())
PYEOF

printf '%s' "$WANT_STAMP" >"$STAMP.tmp" && mv -f "$STAMP.tmp" "$STAMP" || die "cannot write $STAMP"
log "ready: $VENV"
echo "$PY"
