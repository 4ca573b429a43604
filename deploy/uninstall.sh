#!/usr/bin/env bash
# Remove the bearid field agent installed by deploy/install.sh: the service, its unit and
# drop-ins, and /opt/bearagent. The gallery, the sightings not yet published, the config,
# the credentials and the user stay unless --purge. Idempotent.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
  cat <<'EOF'
Usage: deploy/uninstall.sh [OPTIONS]

Stop and remove the 'bearagent' and 'bearagent-review' services and /opt/bearagent. Kept: /var/lib/bearagent
(gallery, ledger, outbox), /etc/bearagent (config, credentials), the local Mosquitto
settings and the user 'bearagent', so a later install.sh picks up where it left off.

  --purge      also delete /var/lib/bearagent, /etc/bearagent, the Mosquitto settings
               written by install.sh --mosquitto, and the user 'bearagent'.
               Sightings not yet published are lost: this cannot be undone.
  --root DIR   act below DIR instead of / (staging, tests): no systemctl, no userdel
  -h, --help   show this help
EOF
}

log() { printf 'uninstall: %s\n' "$*"; }
die() { printf 'uninstall: error: %s\n' "$*" >&2; exit 1; }

ROOT="" PURGE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --purge) PURGE=1 ;;
    --root) [ $# -ge 2 ] && [ -n "$2" ] || die "--root needs a value (see --help)"
            ROOT=$(realpath -m "$2"); shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
  shift
done
[ -n "$ROOT" ] || [ "$(id -u)" -eq 0 ] || die "run as root (sudo deploy/uninstall.sh ...), or use --root DIR"

VENV_DIR=$ROOT/opt/bearagent/venv ETC=$ROOT/etc/bearagent CONFIG=$ROOT/etc/bearagent/config.toml
UNIT=$ROOT/etc/systemd/system/bearagent.service DROPIN=$ROOT/etc/systemd/system/bearagent.service.d
REVIEW_UNIT=$ROOT/etc/systemd/system/bearagent-review.service
REVIEW_DROPIN=$ROOT/etc/systemd/system/bearagent-review.service.d

# shellcheck source=deploy/common.sh
. "$HERE/common.sh"

stop_service() {
  if [ -n "$ROOT" ]; then log "--root: not calling systemctl"; return 0; fi
  if ! systemd_running; then log "systemd is not running here: nothing to stop"; return 0; fi
  if systemctl list-unit-files bearagent-review.service >/dev/null 2>&1; then
    systemctl disable --now --quiet bearagent-review.service || true
  fi
  if systemctl list-unit-files bearagent.service >/dev/null 2>&1; then
    # Stopping lets the agent finish its batch and keep the unsent outbox on disk.
    systemctl disable --now --quiet bearagent.service || true
  fi
}

remove_unit() {
  rm -f "$UNIT" "$DROPIN/watch-roots.conf" "$DROPIN/gpu.conf"
  rm -f "$REVIEW_UNIT" "$REVIEW_DROPIN/watch-roots.conf"
  # Drop-ins the administrator wrote (systemctl edit) stay, and so does their folder.
  rmdir "$DROPIN" "$REVIEW_DROPIN" 2>/dev/null || true
  if systemd_running; then
    systemctl daemon-reload
    systemctl reset-failed bearagent bearagent-review 2>/dev/null || true
  fi
  log "removed the units bearagent.service and bearagent-review.service"
}

remove_user() {
  has_user || return 0
  if [ -z "$ROOT" ]; then userdel bearagent; log "removed the user 'bearagent'"; return 0; fi
  local f
  for f in "$ROOT/etc/passwd" "$ROOT/etc/group"; do
    [ -e "$f" ] || continue
    grep -v '^bearagent:' "$f" > "$f.new" || true
    cat "$f.new" > "$f"; rm -f "$f.new"
  done
  log "--root: removed the user 'bearagent' from $ROOT/etc/passwd"
}

purge() {
  local mdir=$ROOT/etc/mosquitto
  rm -rf "$ROOT/var/lib/bearagent" "$ETC"
  if [ -e "$mdir/conf.d/bearagent.conf" ]; then
    rm -rf "$mdir/conf.d/bearagent.conf" "$mdir/bearagent.passwd" "$mdir/certs/bearagent"
    if systemd_running; then systemctl try-restart mosquitto || true; fi
    log "removed the Mosquitto settings of bearid"
  fi
  remove_user
  log "purged /var/lib/bearagent and /etc/bearagent"
}

stop_service
remove_unit
rm -rf "$ROOT/opt/bearagent" "$ROOT/var/cache/bearagent"
log "removed /opt/bearagent and the cache /var/cache/bearagent"
if [ "$PURGE" -eq 1 ]; then
  purge
else
  for kept in "$ROOT/var/lib/bearagent" "$ETC"; do
    [ ! -e "$kept" ] || log "kept $kept (--purge deletes it)"
  done
fi
