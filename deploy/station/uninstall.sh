#!/usr/bin/env bash
# Remove the bearid base station: stop and disable the service, remove the unit and the
# venv. Keeps the database, config and broker settings unless --purge. Idempotent.
set -euo pipefail

usage() {
  cat <<'EOF2'
Usage: deploy/station/uninstall.sh [--purge] [--root DIR]

  --purge      also delete /var/lib/bear-station (the SQLite database: every stored
               event), /etc/bear-station, the station's Mosquitto settings and the user
  --root DIR   act below DIR (staging, tests): no systemctl, no userdel
  -h, --help   show this help
EOF2
}

log() { printf 'station-uninstall: %s\n' "$*"; }
die() { printf 'station-uninstall: error: %s\n' "$*" >&2; exit 1; }

ROOT="" PURGE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --purge) PURGE=1 ;;
    --root) [ $# -ge 2 ] || die "--root needs a value"; ROOT=$(realpath -m "$2"); shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
  shift
done
[ -n "$ROOT" ] || [ "$(id -u)" -eq 0 ] || die "run as root (sudo ...), or use --root DIR"

running() { [ -z "$ROOT" ] && [ -d /run/systemd/system ]; }
UNIT=$ROOT/etc/systemd/system/bear-station.service MDIR=$ROOT/etc/mosquitto

if running && systemctl list-unit-files bear-station.service >/dev/null 2>&1; then
  systemctl disable --now bear-station 2>/dev/null || true
fi
if [ -e "$UNIT" ]; then
  rm -f "$UNIT"
  if running; then systemctl daemon-reload; fi
  log "removed the unit bear-station.service"
fi
rm -rf "$ROOT/opt/bear-station"
log "removed /opt/bear-station"
if [ "$PURGE" -eq 0 ]; then
  for kept in "$ROOT/var/lib/bear-station" "$ROOT/etc/bear-station"; do
    [ ! -e "$kept" ] || log "kept $kept (--purge deletes it)"
  done
  exit 0
fi
rm -rf "$ROOT/var/lib/bear-station" "$ROOT/etc/bear-station"
if [ -e "$MDIR/conf.d/bear-station.conf" ]; then
  rm -rf "$MDIR/conf.d/bear-station.conf" "$MDIR/bear-station.passwd" "$MDIR/bear-station.acl" \
    "$MDIR/certs/bear-station"
  if running; then systemctl try-restart mosquitto || true; fi
  log "removed the station's Mosquitto settings"
fi
if [ -z "$ROOT" ]; then
  if getent passwd bear-station >/dev/null; then userdel bear-station; log "removed the user"; fi
else
  for f in "$ROOT/etc/passwd" "$ROOT/etc/group"; do
    [ -e "$f" ] || continue
    grep -v '^bear-station:' "$f" > "$f.new" || true
    cat "$f.new" > "$f"; rm -f "$f.new"
  done
fi
log "purged /var/lib/bear-station and /etc/bear-station"
