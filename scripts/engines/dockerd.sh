#!/usr/bin/env bash
# Makes (idempotently) a Docker daemon available for tests on a machine that has none running.
#
#   eval "$(bash scripts/engines/dockerd.sh)"   # prints `export DOCKER_HOST=unix://...` on stdout; progress on stderr
#
# 1. If `docker info` already answers (current DOCKER_HOST, else the default socket), nothing is started.
# 2. If dockerd is missing, Debian's docker.io is installed with apt-get (needs root, or passwordless sudo).
# 3. dockerd is started in the background, detached from this shell:
#      dockerd --storage-driver=vfs --iptables=false --bridge=none --data-root TOOLS/docker-data -H unix://SOCK
#    vfs works on any filesystem (no overlay mounts needed); --iptables=false/--bridge=none because containers are
#    run with `--network host` here. Images live under the data root, so they persist between runs.
# 4. Waits until `docker info` answers (DEPLOYKIT_DOCKERD_TIMEOUT seconds, default 60); on failure prints the tail
#    of the daemon log and exits 1.
#
# Location of the log and the data: ${DEPLOYKIT_TOOLS_DIR:-$HOME/.cache/deploykit/tools}/dockerd.log and
# .../docker-data. Stop the daemon with: kill "$(cat /var/run/docker.pid)"
#
# Environment:
#   DEPLOYKIT_TOOLS_DIR             folder for dockerd.log and docker-data
#   DEPLOYKIT_DOCKER_SOCKET         socket path to serve (default /var/run/docker.sock)
#   DEPLOYKIT_DOCKER_STORAGE_DRIVER storage driver (default vfs; overlay2 is faster where the kernel allows it)
#   DEPLOYKIT_DOCKERD_TIMEOUT       seconds to wait for the daemon (default 60)
set -euo pipefail

TOOLS_DIR="${DEPLOYKIT_TOOLS_DIR:-$HOME/.cache/deploykit/tools}"
LOG="$TOOLS_DIR/dockerd.log"
DATA_ROOT="$TOOLS_DIR/docker-data"
SOCKET="${DEPLOYKIT_DOCKER_SOCKET:-/var/run/docker.sock}"
STORAGE_DRIVER="${DEPLOYKIT_DOCKER_STORAGE_DRIVER:-vfs}"
TIMEOUT="${DEPLOYKIT_DOCKERD_TIMEOUT:-60}"

log() { echo "dockerd.sh: $*" >&2; }
die() { echo "dockerd.sh: error: $*" >&2; exit 1; }

docker_answers() {   # $1: DOCKER_HOST value ("" = the CLI's default)
  if [ -n "$1" ]; then
    DOCKER_HOST="$1" timeout 10 docker info --format '{{.ServerVersion}}' >/dev/null 2>&1
  else
    (unset DOCKER_HOST; timeout 10 docker info --format '{{.ServerVersion}}' >/dev/null 2>&1)
  fi
}

ROOT_PREFIX=()   # empty when root, else (sudo -n); set by need_root
need_root() {
  if [ "$(id -u)" = 0 ]; then ROOT_PREFIX=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then ROOT_PREFIX=(sudo -n)
  else die "need root (or passwordless sudo) to $1"
  fi
}
as_root() { "${ROOT_PREFIX[@]}" "$@"; }
now_ms() { date +%s%3N; }
alive() {   # $1: pid; a zombie (exited, not yet reaped -- PID 1 in some sandboxes never reaps) counts as dead
  kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# --- 1. already running? -------------------------------------------------------------------------------------
if command -v docker >/dev/null 2>&1; then
  if [ -n "${DOCKER_HOST:-}" ] && docker_answers "$DOCKER_HOST"; then
    log "a daemon already answers on $DOCKER_HOST"
    echo "export DOCKER_HOST=$DOCKER_HOST"
    exit 0
  fi
  if docker_answers "unix://$SOCKET"; then
    log "a daemon already answers on unix://$SOCKET"
    echo "export DOCKER_HOST=unix://$SOCKET"
    exit 0
  fi
fi

mkdir -p "$TOOLS_DIR" || die "cannot create $TOOLS_DIR"

# One starter at a time; a second caller waits, then finds the daemon answering.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$TOOLS_DIR/.dockerd.lock"
  flock 9 || die "cannot lock $TOOLS_DIR/.dockerd.lock"
  if command -v docker >/dev/null 2>&1 && docker_answers "unix://$SOCKET"; then
    log "a daemon already answers on unix://$SOCKET"
    echo "export DOCKER_HOST=unix://$SOCKET"
    exit 0
  fi
fi

# --- 2. install ------------------------------------------------------------------------------------------------
DOCKERD="$(command -v dockerd || true)"
if [ -z "$DOCKERD" ]; then
  command -v apt-get >/dev/null 2>&1 || die "dockerd not found and apt-get unavailable; install Docker by hand"
  need_root "install docker.io"
  log "dockerd not found; installing Debian's docker.io with apt-get"
  start=$SECONDS
  # policy-rc.d 101: keep the package's init scripts from trying to start a service (no init system here).
  policy_created=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    as_root sh -c 'printf "#!/bin/sh\nexit 101\n" >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
    policy_created=1
  fi
  install_ok=1
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker.io >&2 || {
    log "apt-get install failed; updating package lists and retrying"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 &&
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker.io >&2 ||
      install_ok=0
  }
  [ "$policy_created" = 1 ] && as_root rm -f /usr/sbin/policy-rc.d
  [ "$install_ok" = 1 ] || die "apt-get install docker.io failed"
  DOCKERD="$(command -v dockerd || true)"
  [ -n "$DOCKERD" ] || die "docker.io installed but dockerd is still not on PATH"
  log "docker.io installed in $((SECONDS - start)) s"
fi
command -v docker >/dev/null 2>&1 || die "docker CLI not found (Debian's docker.io ships /usr/bin/docker)"

# --- 3. start --------------------------------------------------------------------------------------------------
# A pid file left by a daemon that is gone makes no trouble (dockerd overwrites it); a live one means a daemon is
# running but not answering on our socket -- report rather than start a second one on the same exec-root.
PIDFILE=/var/run/docker.pid
if [ -f "$PIDFILE" ]; then
  oldpid="$(cat "$PIDFILE" 2>/dev/null || true)"
  if [ -n "$oldpid" ] && alive "$oldpid"; then
    die "a dockerd (pid $oldpid, $PIDFILE) runs but does not answer on unix://$SOCKET; see $LOG or stop it"
  fi
fi

need_root "start dockerd"
mkdir -p "$DATA_ROOT"
log "starting dockerd (storage $STORAGE_DRIVER, data-root $DATA_ROOT, socket unix://$SOCKET, log $LOG)"
{ echo "=== $(date -u +%FT%TZ) dockerd.sh starting dockerd"; } >>"$LOG"
start_ms=$(now_ms)
# The daemon must hold none of this script's descriptors: not its stdout (often a `$(...)` pipe, which would then
# never reach EOF), not fd 9 (the lock), not pipes inherited from whoever runs us. The subshell points 0/1/2 at
# /dev/null and the log, closes every other descriptor, then execs, so no shell stays behind as the daemon's parent.
(
  exec </dev/null >>"$LOG" 2>&1
  for fd in /proc/$BASHPID/fd/*; do
    fd="${fd##*/}"
    [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-" 2>/dev/null
  done
  exec "${ROOT_PREFIX[@]}" setsid nohup "$DOCKERD" \
    --storage-driver="$STORAGE_DRIVER" \
    --iptables=false \
    --bridge=none \
    --data-root="$DATA_ROOT" \
    -H "unix://$SOCKET"
) &
dpid=$!

# --- 4. wait ---------------------------------------------------------------------------------------------------
while ! docker_answers "unix://$SOCKET"; do
  if ! alive "$dpid"; then
    echo "--- last lines of $LOG (grpc chatter left out):" >&2; grep -v "module=grpc" "$LOG" | tail -n 25 >&2
    die "dockerd exited before answering"
  fi
  if [ $(( $(now_ms) - start_ms )) -ge $(( TIMEOUT * 1000 )) ]; then
    echo "--- last lines of $LOG (grpc chatter left out):" >&2; grep -v "module=grpc" "$LOG" | tail -n 25 >&2
    die "dockerd did not answer on unix://$SOCKET within $TIMEOUT s (it is still running as pid $dpid)"
  fi
  sleep 0.2
done
elapsed_ms=$(( $(now_ms) - start_ms ))
log "dockerd ready in $((elapsed_ms / 1000)).$(printf %03d $((elapsed_ms % 1000))) s (pid $(cat "$PIDFILE" 2>/dev/null || echo "$dpid"))"
echo "export DOCKER_HOST=unix://$SOCKET"
