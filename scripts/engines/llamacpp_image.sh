#!/usr/bin/env bash
# Builds (once) a local Docker image that serves a GGUF with llama-cpp-python's OpenAI-compatible server, without
# any registry:
#
#   bash scripts/engines/llamacpp_image.sh   # prints the image name on stdout; progress goes to stderr
#
#   docker run --rm --network host -v GGUF_DIR:/models:ro deploykit-test/llamacpp-server:0.3.36 \
#     --model /models/x.gguf --host 127.0.0.1 --port P [--chat_format gemma --n_ctx 2048]
#
# How: no base image can be pulled, so the image is one layer made from host files and `docker import`ed:
#   /opt/python   the interpreter tree the llama.cpp venv was made from (pyenv's 3.11), stdlib only: no
#                 site-packages, test suite, static libpython, tkinter/idle/ensurepip/lib2to3/turtledemo
#   /opt/venv     the venv's site-packages from scripts/engines/llamacpp.sh (pip/setuptools and the second copy of
#                 llama.cpp's libraries and headers that its CMake install leaves in site-packages/{lib,include}
#                 left out: llama_cpp loads llama_cpp/lib/*.so), its
#                 pyvenv.cfg and bin/ symlinks rewritten to /opt/python
#   /usr/lib/...  every shared library that `ldd` finds for the interpreter, libpython, lib-dynload and the venv's
#                 .so files (llama.cpp's libllama/libggml, pydantic_core, ...), copied from this host, plus
#                 libpython itself (its RUNPATH points at the host's pyenv; the system dir is searched next)
#   /bin/sh       dash, for `docker exec` debugging
# ENTRYPOINT ["/opt/venv/bin/python", "-m", "llama_cpp.server"]; PATH starts with /opt/venv/bin.
# The host is Debian 12 (merged /usr); the image gets the same layout (lib -> usr/lib, ...).
# The llama.cpp build may be tuned to this host's CPU (GGML_NATIVE), so the image is for this machine only.
#
# The image is imported under a temporary tag, checked by importing llama_cpp.server.app inside a container, and
# only then tagged with the final name, so a half-built image never carries it. With the image present (and its
# label matching the venv's stamp) the script is a fast no-op. A Docker daemon is made available with
# scripts/engines/dockerd.sh when `docker info` does not answer.
#
# Environment:
#   DEPLOYKIT_TOOLS_DIR     scratch space for the staging tree (default $HOME/.cache/deploykit/tools)
#   DEPLOYKIT_ENGINES_DIR   passed through to llamacpp.sh
#   DEPLOYKIT_LLAMACPP_IMAGE image name (default deploykit-test/llamacpp-server:0.3.36)
set -euo pipefail

LLAMA_CPP_PYTHON_VERSION="0.3.36"
IMAGE="${DEPLOYKIT_LLAMACPP_IMAGE:-deploykit-test/llamacpp-server:$LLAMA_CPP_PYTHON_VERSION}"
IMAGE_FORMAT=1   # bump when the image layout changes: an image with another format is rebuilt
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TOOLS_DIR="${DEPLOYKIT_TOOLS_DIR:-$HOME/.cache/deploykit/tools}"

log() { echo "llamacpp_image.sh: $*" >&2; }
die() { echo "llamacpp_image.sh: error: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }

command -v docker >/dev/null 2>&1 || die "docker CLI not found"
if ! timeout 10 docker info >/dev/null 2>&1; then
  log "no Docker daemon answers; running dockerd.sh"
  eval "$(bash "$HERE/dockerd.sh")" || die "dockerd.sh failed"
  export DOCKER_HOST
fi

# The venv (built once by llamacpp.sh; if another process is building it, llamacpp.sh waits on its lock).
VENV_PY="$(bash "$HERE/llamacpp.sh")" || die "llamacpp.sh failed"
VENV="$(cd "$(dirname "$VENV_PY")/.." && pwd)"
STAMP="$VENV/.deploykit-engine-stamp"
[ -f "$STAMP" ] || die "$STAMP missing after llamacpp.sh"
WANT_LABEL="$IMAGE_FORMAT;$(tr '\n' ';' <"$STAMP")"

image_ok() {
  local have
  have="$(docker image inspect --format '{{index .Config.Labels "deploykit.source"}}' "$IMAGE" 2>/dev/null)" || return 1
  [ "$have" = "$WANT_LABEL" ]
}

if image_ok; then
  echo "$IMAGE"
  exit 0
fi

mkdir -p "$TOOLS_DIR" || die "cannot create $TOOLS_DIR"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$TOOLS_DIR/.llamacpp-image.lock"
  log "taking lock $TOOLS_DIR/.llamacpp-image.lock"
  flock 9 || die "cannot lock $TOOLS_DIR/.llamacpp-image.lock"
  if image_ok; then
    echo "$IMAGE"
    exit 0
  fi
fi
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "$IMAGE exists but was built from another venv or layout; rebuilding"
fi

t0=$(now_ms)
# --- the interpreter behind the venv ----------------------------------------------------------------------------
BASE_EXE="$(readlink -f "$VENV_PY")"                      # e.g. /root/.pyenv/versions/3.11.7/bin/python3.11
read -r PYVER PYPREFIX LDLIBRARY LIBDIR VENVVER < <("$VENV_PY" - <<'PYEOF'
import sys, sysconfig, importlib.metadata as md
print("%d.%d" % sys.version_info[:2], sys.base_prefix, sysconfig.get_config_var("LDLIBRARY"),
      sysconfig.get_config_var("LIBDIR"), md.version("llama-cpp-python"))
PYEOF
) || die "cannot query $VENV_PY"
[ "$VENVVER" = "$LLAMA_CPP_PYTHON_VERSION" ] || die "venv has llama-cpp-python $VENVVER, want $LLAMA_CPP_PYTHON_VERSION"
STDLIB="$PYPREFIX/lib/python$PYVER"
[ -f "$STDLIB/os.py" ] || die "stdlib not found at $STDLIB"
SITE="$VENV/lib/python$PYVER/site-packages"
[ -d "$SITE" ] || die "site-packages not found at $SITE"

STAGE="$(mktemp -d "$TOOLS_DIR/llamacpp-image.XXXXXX")"
TMP_TAG="$IMAGE-building-$$"
cleanup() {
  rm -rf "$STAGE"
  docker rm -f "llamacpp-image-check-$$" >/dev/null 2>&1 || true
  docker image rm "$TMP_TAG" >/dev/null 2>&1 || true
}
trap cleanup EXIT

log "staging the root filesystem in $STAGE"
R="$STAGE/rootfs"
mkdir -p "$R"/usr/{bin,lib/x86_64-linux-gnu,lib64} "$R"/{etc,tmp,root,proc,sys,dev,models,opt} "$R/opt/python/bin"
chmod 1777 "$R/tmp"; chmod 700 "$R/root"
ln -s usr/bin "$R/bin"; ln -s usr/bin "$R/sbin"; ln -s usr/lib "$R/lib"; ln -s usr/lib64 "$R/lib64"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$R/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$R/etc/group"

# Interpreter and stdlib (pycache kept: faster start).
cp -L "$BASE_EXE" "$R/opt/python/bin/python$PYVER"
ln -s "python$PYVER" "$R/opt/python/bin/python3"; ln -s "python$PYVER" "$R/opt/python/bin/python"
mkdir -p "$R/opt/python/lib"
tar -C "$PYPREFIX/lib" -cf - \
  --exclude="python$PYVER/site-packages" --exclude="python$PYVER/test" --exclude="python$PYVER/idlelib" \
  --exclude="python$PYVER/tkinter" --exclude="python$PYVER/turtledemo" --exclude="python$PYVER/ensurepip" \
  --exclude="python$PYVER/lib2to3" --exclude="python$PYVER/config-$PYVER-*" \
  --exclude="python$PYVER/lib-dynload/_tkinter*" --exclude="python$PYVER/lib-dynload/_test*" \
  --exclude="python$PYVER/lib-dynload/xxlimited*" --exclude="python$PYVER/lib-dynload/_xxtestfuzz*" \
  --exclude="python$PYVER/lib-dynload/_ctypes_test*" \
  "python$PYVER" | tar -C "$R/opt/python/lib" -xf -
mkdir -p "$R/opt/python/lib/python$PYVER/site-packages"
if [ -n "$LDLIBRARY" ] && [ -f "$LIBDIR/$LDLIBRARY" ]; then   # shared build: libpython into the system dir
  soname="$(objdump -p "$LIBDIR/$LDLIBRARY" 2>/dev/null | awk '/SONAME/ {print $2}')"
  cp -L "$LIBDIR/$LDLIBRARY" "$R/usr/lib/x86_64-linux-gnu/${soname:-$LDLIBRARY}"
fi

# The venv: site-packages without pip/setuptools, scripts' shebangs and the interpreter links pointing to /opt.
mkdir -p "$R/opt/venv/bin" "$R/opt/venv/lib/python$PYVER"
tar -C "$VENV/lib/python$PYVER" -cf - \
  --exclude='site-packages/pip' --exclude='site-packages/pip-*' \
  --exclude='site-packages/setuptools' --exclude='site-packages/setuptools-*' \
  --exclude='site-packages/pkg_resources' --exclude='site-packages/_distutils_hack' \
  --exclude='site-packages/distutils-precedence.pth' \
  --exclude='site-packages/lib' --exclude='site-packages/include' --exclude='site-packages/bin' \
  site-packages | tar -C "$R/opt/venv/lib/python$PYVER" -xf -
ln -s lib "$R/opt/venv/lib64"
for name in python python3 "python$PYVER"; do ln -s "/opt/python/bin/python$PYVER" "$R/opt/venv/bin/$name"; done
for f in "$VENV"/bin/*; do
  b="$(basename "$f")"
  case "$b" in python*|pip*|activate*|Activate*) continue ;; esac
  if [ -f "$f" ] && head -c 2 "$f" | grep -q '^#!'; then
    sed "1s|^#!.*python.*|#!/opt/venv/bin/python|" "$f" >"$R/opt/venv/bin/$b"; chmod 755 "$R/opt/venv/bin/$b"
  fi
done
printf 'home = /opt/python/bin\ninclude-system-site-packages = false\nversion = %s\n' \
  "$("$VENV_PY" -c 'import platform; print(platform.python_version())')" >"$R/opt/venv/pyvenv.cfg"

# /bin/sh for debugging.
cp -L "$(command -v dash)" "$R/usr/bin/dash" && ln -s dash "$R/usr/bin/sh"

# Shared libraries: everything ldd resolves outside the trees copied above, copied to the same path (merged /usr).
log "collecting shared libraries with ldd"
elfs=("$BASE_EXE" "$(command -v dash)")
[ -n "$LDLIBRARY" ] && [ -f "$LIBDIR/$LDLIBRARY" ] && elfs+=("$LIBDIR/$LDLIBRARY")
while IFS= read -r -d '' f; do elfs+=("$f"); done < <(
  find "$R/opt/python/lib/python$PYVER/lib-dynload" "$R/opt/venv/lib/python$PYVER/site-packages" \
    -type f \( -name '*.so' -o -name '*.so.*' \) -print0)
missing=""
declare -A seen=()
for f in "${elfs[@]}"; do
  out="$(ldd "$f" 2>/dev/null)" || continue    # not a dynamic ELF
  while read -r line; do
    case "$line" in
      *"=> not found"*) missing+="  $(basename "$f"): ${line%% *}"$'\n'; continue ;;
      *"=> /"*) p="${line#*=> }"; p="${p%% (*}" ;;
      /*) p="${line%% (*}" ;;                  # the dynamic loader
      *) continue ;;
    esac
    case "$p" in "$PYPREFIX"/*|"$VENV"/*|"$R"/*) continue ;; esac
    [ -n "${seen[$p]:-}" ] && continue
    seen[$p]=1
    case "$p" in /lib/*|/lib64/*|/bin/*|/sbin/*) dest="$R/usr$p" ;; *) dest="$R$p" ;; esac
    mkdir -p "$(dirname "$dest")"
    cp -L "$p" "$dest"
  done <<<"$out"
done
[ -z "$missing" ] || { printf '%s' "$missing" >&2; die "libraries not found on this host (see above)"; }
log "copied ${#seen[@]} host libraries"

if command -v strip >/dev/null 2>&1; then   # debug symbols are most of libpython's size
  strip --strip-unneeded "$R/opt/python/bin/python$PYVER" "$R"/usr/lib/x86_64-linux-gnu/libpython* 2>/dev/null || true
fi
log "root filesystem: $(du -sh "$R" | cut -f1)"

# --- import, check, tag ------------------------------------------------------------------------------------------
log "importing as $TMP_TAG"
tar --numeric-owner --owner=0 --group=0 -C "$R" -cf - . | docker import \
  --change 'ENTRYPOINT ["/opt/venv/bin/python", "-m", "llama_cpp.server"]' \
  --change 'ENV PATH=/opt/venv/bin:/opt/python/bin:/usr/local/bin:/usr/bin:/bin' \
  --change 'ENV PYTHONUNBUFFERED=1' \
  --change 'ENV HOME=/root' \
  --change 'WORKDIR /' \
  --change 'EXPOSE 8000' \
  --change "LABEL deploykit.source=\"$WANT_LABEL\"" \
  --change "LABEL org.opencontainers.image.title=\"llama-cpp-python server $LLAMA_CPP_PYTHON_VERSION (deploykit test image)\"" \
  -m "deploykit: llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION from $VENV" \
  - "$TMP_TAG" >/dev/null || die "docker import failed"

log "checking the image (import llama_cpp.server.app inside a container)"
docker run --rm --name "llamacpp-image-check-$$" --network none --entrypoint /opt/venv/bin/python "$TMP_TAG" -c '
import importlib.metadata as md, ssl, sqlite3, llama_cpp, llama_cpp.server.app, llama_cpp.server.__main__
print("llama-cpp-python", md.version("llama-cpp-python"), "|", llama_cpp.llama_print_system_info().decode().strip())
' >&2 || die "the image cannot import llama_cpp.server (see above)"

docker tag "$TMP_TAG" "$IMAGE" || die "docker tag failed"
docker image rm "$TMP_TAG" >/dev/null || true
size="$(docker image inspect --format '{{.Size}}' "$IMAGE")"
elapsed=$(( $(now_ms) - t0 ))
log "built $IMAGE ($((size / 1000000)) MB) in $((elapsed / 1000)).$(printf %03d $((elapsed % 1000))) s"
echo "$IMAGE"
