#!/usr/bin/env bash
# Install (or upgrade) the bearid base station on a Debian / Ubuntu server: system user,
# folders, a venv in /opt/bear-station, a config, the systemd unit, and optionally the
# station's own Mosquitto broker that the field boxes bridge to. Idempotent. --help.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_TREE=$(dirname "$(dirname "$HERE")")

usage() {
  cat <<'EOF'
Usage: deploy/station/install.sh [OPTIONS]

Install the bearid base station as the systemd service 'bear-station'.

  --upgrade            upgrade an existing install: new package and unit; the config,
                       database and credentials are kept; restarts the service
  --source SPEC        what to pip install (default: the source tree this script is in)
  --pip-arg ARG        extra argument for pip (repeatable)
  --python PY          Python (3.11 or newer) for the venv (default: python3)
  --no-venv            do not create or update the venv
  --db URL             station.database of a new config (default: an SQLite file in
                       /var/lib/bear-station; PostgreSQL: postgresql://user@host/dbname)
  --broker URL         a broker of a new config (repeatable), e.g.
                       mqtts://bear-station@broker.example:8883; its password goes into
                       /etc/bear-station/mqtt-password. Default with --mosquitto: the local one
  --mosquitto          install and configure the station's own Mosquitto: a TLS listener on
                       port 8883 for the boxes' bridges (needs --tls-cert/--tls-key), a
                       loopback listener for the station, passwords and a per-box ACL
  --tls-cert FILE      with --mosquitto: the broker's certificate (boxes check it)
  --tls-key FILE       its private key
  --add-box ID         let box ID's bridge in (user ID, may write bearid/ID/# only); its
                       password from --box-password-file (the box's bridge-password)
  --box-password-file FILE
                       the password of --add-box
  --no-start           enable the service but do not start or restart it
  --root DIR           install below DIR instead of / (staging, tests): no user is created
                       (DIR/etc/passwd gets the entry), no systemctl, no apt-get
  -h, --help           show this help
EOF
}

log() { printf 'station-install: %s\n' "$*"; }
die() { printf 'station-install: error: %s\n' "$*" >&2; exit 1; }

ROOT="" UPGRADE=0 SOURCE="$SRC_TREE" PYTHON=python3 VENV=1 START=1 DB="" MOSQUITTO=0
TLS_CERT="" TLS_KEY="" ADD_BOX="" BOX_PASSWORD_FILE=""
PIP_ARGS=() BROKERS=()

need_arg() { [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value (see --help)"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --upgrade) UPGRADE=1 ;;
    --source) need_arg "$@"; SOURCE=$2; shift ;;
    --pip-arg) need_arg "$@"; PIP_ARGS+=("$2"); shift ;;
    --python) need_arg "$@"; PYTHON=$2; shift ;;
    --no-venv) VENV=0 ;;
    --db) need_arg "$@"; DB=$2; shift ;;
    --broker) need_arg "$@"; BROKERS+=("$2"); shift ;;
    --mosquitto) MOSQUITTO=1 ;;
    --tls-cert) need_arg "$@"; TLS_CERT=$2; shift ;;
    --tls-key) need_arg "$@"; TLS_KEY=$2; shift ;;
    --add-box) need_arg "$@"; ADD_BOX=$2; shift ;;
    --box-password-file) need_arg "$@"; BOX_PASSWORD_FILE=$2; shift ;;
    --no-start) START=0 ;;
    --root) need_arg "$@"; ROOT=$(realpath -m "$2"); shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
  shift
done

[ -n "$ROOT" ] || [ "$(id -u)" -eq 0 ] || die "run as root (sudo ...), or use --root DIR"
if [ "$MOSQUITTO" -eq 1 ] && { [ -z "$TLS_CERT" ] || [ -z "$TLS_KEY" ]; }; then
  die "--mosquitto needs --tls-cert and --tls-key: the boxes reach the station over TLS"
fi
[ -z "$TLS_CERT$TLS_KEY" ] || [ "$MOSQUITTO" -eq 1 ] || die "--tls-cert/--tls-key go with --mosquitto"
[ -z "$ADD_BOX" ] || [[ "$ADD_BOX" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ ]] ||
  die "--add-box '$ADD_BOX' is not an agent id (letters, digits, '_', '.', '-')"
[ -z "$ADD_BOX" ] || [ -n "$BOX_PASSWORD_FILE" ] ||
  die "--add-box needs --box-password-file (a copy of the box's /etc/bearagent/bridge-password)"
[ -z "$BOX_PASSWORD_FILE" ] || [ -n "$ADD_BOX" ] || die "--box-password-file goes with --add-box"
for value in "$DB" ${BROKERS[@]+"${BROKERS[@]}"}; do
  case "$value" in *\'*|*$'\n'*) die "'$value': a quote or newline is not supported" ;; esac
done
case "$DB" in *'|'*|*\\*) die "--db '$DB': a '|' or '\\' is not supported (edit the config instead)" ;; esac
for f in "$TLS_CERT" "$TLS_KEY" "$BOX_PASSWORD_FILE"; do
  [ -z "$f" ] || [ -r "$f" ] || die "cannot read $f: check the path"
done

OPT=$ROOT/opt/bear-station VENV_DIR=$ROOT/opt/bear-station/venv ETC=$ROOT/etc/bear-station
STATE=$ROOT/var/lib/bear-station UNIT_DIR=$ROOT/etc/systemd/system MDIR=$ROOT/etc/mosquitto
CONFIG=$ETC/config.toml

# shellcheck source=deploy/station/parts.sh
. "$HERE/parts.sh"

[ "$UPGRADE" -eq 0 ] || [ -f "$UNIT_DIR/bear-station.service" ] ||
  die "nothing to upgrade below ${ROOT:-/}: run without --upgrade to install"

main() {
  make_user
  install -d -m 0755 "$OPT"
  install -d -m 0750 "$ETC" "$STATE"
  own root:bear-station "$ETC"; own bear-station:bear-station "$STATE"
  install -m 0644 "$HERE/config.example.toml" "$OPT/config.example.toml"
  install_venv
  # LoadCredential= needs the file; root-only, systemd hands it to the station.
  [ -e "$ETC/mqtt-password" ] || install -m 0600 /dev/null "$ETC/mqtt-password"
  [ "$MOSQUITTO" -eq 0 ] || setup_station_broker
  write_config
  [ -z "$ADD_BOX" ] || add_box
  install -d -m 0755 "$UNIT_DIR"
  install -m 0644 "$SRC_TREE/systemd/bear-station.service" "$UNIT_DIR/bear-station.service"
  log "installed $UNIT_DIR/bear-station.service"
  check_config
  systemd_apply
  log "done. Follow it with 'journalctl -u bear-station -f'; exports: see docs/station.md"
}

main
