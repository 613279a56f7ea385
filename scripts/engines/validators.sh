#!/usr/bin/env bash
# Makes the external validators of `deploykit render --check` available, cached outside the clone:
#   systemd-analyze  Debian's systemd package (apt-get, when missing)
#   promtool         extracted from Debian's prometheus package into $DEPLOYKIT_TOOLS_DIR (no daemon, no web UI)
# Prints `export NAME=VALUE` lines for the caller to eval; progress goes to stderr.
set -euo pipefail
TOOLS="${DEPLOYKIT_TOOLS_DIR:-$HOME/.cache/deploykit/tools}"
log() { echo "validators.sh: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
  log "need root for: $*"; return 1; fi; }

if ! command -v systemd-analyze >/dev/null 2>&1; then
  log "installing Debian's systemd (for systemd-analyze verify)"
  as_root apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends systemd >&2
fi

PROMTOOL="$TOOLS/prometheus/usr/bin/promtool"
if [ ! -x "$PROMTOOL" ]; then
  log "extracting promtool from Debian's prometheus package into $TOOLS"
  mkdir -p "$TOOLS/deb"
  (cd "$TOOLS/deb" && rm -f prometheus_*.deb && apt-get download prometheus >&2) \
    || { as_root apt-get update -qq >&2 && (cd "$TOOLS/deb" && apt-get download prometheus >&2); }
  rm -rf "$TOOLS/prometheus.tmp" && dpkg-deb -x "$TOOLS"/deb/prometheus_*.deb "$TOOLS/prometheus.tmp"
  rm -rf "$TOOLS/prometheus" && mv "$TOOLS/prometheus.tmp" "$TOOLS/prometheus"
fi
"$PROMTOOL" --version >/dev/null 2>&1 || { log "promtool at $PROMTOOL does not run"; exit 1; }
echo "export DEPLOYKIT_PROMTOOL=$PROMTOOL"
echo "export DEPLOYKIT_SYSTEMD_ANALYZE=$(command -v systemd-analyze)"
