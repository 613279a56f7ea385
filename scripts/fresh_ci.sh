#!/usr/bin/env bash
# Runs CI the way a fresh machine would: a clean clone of HEAD, `.ci/run` with CI=true, the system's default PATH,
# a new HOME and fresh, empty cache folders for deploykit's test venv, tools (promtool, dockerd's data) and models.
# Nothing installed by hand (a promtool or llama-server on PATH, a DEPLOYKIT_* variable, a venv) can make it pass.
#
#   bash scripts/fresh_ci.sh [pytest args]        # exit status: that of .ci/run
#
# Only the two slow engine builds may be reused, and only when asked for explicitly:
#   DEPLOYKIT_FRESH_CI_ENGINES_DIR=~/.cache/deploykit/engines bash scripts/fresh_ci.sh
# reuses the vLLM CPU and llama-cpp-python venvs from that folder (scripts/engines/*.sh rebuild them there when their
# stamp does not match). Unset, the engines are built from scratch in the scratch folder too (a cold run).
#
# What a fresh machine has that this script cannot take away: Debian packages installed system-wide (the test
# command installs those it needs with apt-get when missing, and the hook before a stop lists the ones a new machine
# lacks), pip's own download cache (it only saves downloads) and a Docker daemon that already answers on the default
# socket (scripts/engines/dockerd.sh reuses it; a fresh machine starts its own).
#
# Environment:
#   DEPLOYKIT_FRESH_CI_ENGINES_DIR  engine venvs to reuse (see above); default: none, build them
#   DEPLOYKIT_FRESH_CI_DIR          scratch folder (default: a new one under ${TMPDIR:-/tmp}); removed after a
#                                   green run unless DEPLOYKIT_FRESH_CI_KEEP=1; kept after a red one, for its logs
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
SYSTEM_PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

log() { echo "fresh_ci.sh: $*" >&2; }

SCRATCH="${DEPLOYKIT_FRESH_CI_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/deploykit-fresh-ci.XXXXXX")}"
mkdir -p "$SCRATCH"
CLONE="$SCRATCH/clone"
CACHE="$SCRATCH/cache"
[ ! -e "$CLONE" ] || { log "$CLONE exists; set DEPLOYKIT_FRESH_CI_DIR to an empty folder"; exit 2; }

if [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no)" ]; then
  log "warning: uncommitted changes in $REPO are not tested (a clean clone of HEAD is)"
fi
head="$(git -C "$REPO" rev-parse HEAD)"
log "cloning $head into $CLONE"
git clone --quiet --no-local "$REPO" "$CLONE"
git -C "$CLONE" checkout --quiet --detach "$head"
# CI lays a read-only copy of shared/ beside the clone.
if [ -d "$REPO/../shared" ]; then
  cp -r "$REPO/../shared" "$SCRATCH/shared" && chmod -R a-w "$SCRATCH/shared"
fi

mkdir -p "$CACHE/home" "$CACHE/tmp"
ENGINES="${DEPLOYKIT_FRESH_CI_ENGINES_DIR:-$CACHE/engines}"
if [ -n "${DEPLOYKIT_FRESH_CI_ENGINES_DIR:-}" ]; then
  log "reusing the engine builds in $ENGINES (DEPLOYKIT_FRESH_CI_ENGINES_DIR)"
else
  log "engine builds: fresh, in $ENGINES (set DEPLOYKIT_FRESH_CI_ENGINES_DIR to reuse existing ones)"
fi

# The machine's environment, less whatever names a hand-made install, with CI's settings on top.
drop=(PATH HOME TMPDIR VIRTUAL_ENV PYTHONPATH PYTHONHOME DOCKER_HOST PYENV_VERSION)
while IFS='=' read -r name _; do
  case "$name" in DEPLOYKIT_*|CONDA_*) drop+=("$name") ;; esac
done < <(env)
unset_args=()
for name in "${drop[@]}"; do unset_args+=(-u "$name"); done

# A daemon this run starts (its data root in the scratch folder) is stopped before the folder goes.
docker_before=0
if command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1; then docker_before=1; fi

log "running .ci/run (PATH=$SYSTEM_PATH, HOME=$CACHE/home); log: $SCRATCH/ci.log"
start=$SECONDS
set +e
(
  cd "$CLONE" && env "${unset_args[@]}" \
    PATH="$SYSTEM_PATH" HOME="$CACHE/home" TMPDIR="$CACHE/tmp" CI=true \
    DEPLOYKIT_TEST_VENV="$CACHE/test-venv" DEPLOYKIT_TOOLS_DIR="$CACHE/tools" DEPLOYKIT_MODELS_DIR="$CACHE/models" \
    DEPLOYKIT_ENGINES_DIR="$ENGINES" \
    bash .ci/run "$@" </dev/null
) 2>&1 | tee "$SCRATCH/ci.log"
rc=${PIPESTATUS[0]}
set -e
elapsed=$((SECONDS - start))
if [ "$docker_before" = 0 ] && [ -f /var/run/docker.pid ]; then
  dpid="$(cat /var/run/docker.pid)"
  log "stopping the dockerd this run started (pid $dpid)"
  kill "$dpid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.2; done
fi
log "exit $rc after $((elapsed / 60)) min $((elapsed % 60)) s"
if [ "$rc" = 0 ] && [ "${DEPLOYKIT_FRESH_CI_KEEP:-0}" != 1 ]; then
  chmod -R u+w "$SCRATCH" 2>/dev/null || true
  rm -rf "$SCRATCH"
else
  log "kept $SCRATCH (clone, caches and ci.log)"
fi
exit "$rc"
