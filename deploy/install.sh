#!/usr/bin/env bash
# Install (or upgrade) the bearid field agent on a Debian / Ubuntu / Jetson box:
# system user, folders, a venv in /opt/bearagent, the example config, the systemd unit
# and its drop-ins, and optionally a local Mosquitto broker. Idempotent: running it again
# changes nothing that is already right. Run with --help for the options.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_TREE=$(dirname "$HERE")

usage() {
  cat <<'EOF'
Usage: deploy/install.sh [OPTIONS]

Install the bearid field agent as the systemd service 'bearagent'.

  --upgrade            upgrade an existing install: new package and unit; the config,
                       gallery, model and credentials are kept; restarts the service
  --cpu | --gpu        which ONNX Runtime to install (extra 'cpu' or 'gpu');
                       default: 'gpu' when nvidia-smi sees a GPU or on a Jetson
  --source SPEC        what to pip install: a source tree, a wheel or a pip spec
                       (default: the source tree this script sits in)
  --pip-arg ARG        extra argument for pip (repeatable), e.g. --pip-arg --no-index
  --python PY          Python (3.11 or newer) for the venv (default: python3)
  --no-venv            do not create or update the venv (it is installed already)
  --system-site-packages
                       let the venv see the system's Python packages (Jetson: the
                       tensorrt and onnxruntime-gpu that JetPack installs)
  --agent-id ID        agent.id of a new config (default: this host's name)
  --watch DIR          a watch root of a new config (repeatable; default /traps)
  --mosquitto          install and configure a local Mosquitto broker with a password
                       (user 'bearagent'); the agent connects to it on 127.0.0.1:1883
  --tls-cert FILE      with --mosquitto: also listen with TLS on port 8883 for consumers
  --tls-key FILE       the private key of --tls-cert (required with it)
  --tls-ca FILE        CA certificate to ship with the broker's (optional)
  --bridge HOST:PORT   with --mosquitto: bridge this box's topics (bearid/<agent id>/#) to
                       the base station's broker at HOST:PORT over TLS, with a queue that
                       holds events while the link is down (see docs/station.md)
  --bridge-ca FILE     CA certificate of the station's broker (default: the system's)
  --bridge-user NAME   username on the station's broker (default: the agent id)
  --bridge-password-file FILE
                       its password (default: keep /etc/bearagent/bridge-password, or
                       generate one there for the station's add-box)
  --bridge-queue N     events the bridge holds while the station is unreachable
                       (default 100000; beyond it Mosquitto drops the newest)
  --no-start           enable the service but do not start or restart it
  --root DIR           install below DIR instead of / (staging, tests): no user is
                       created (DIR/etc/passwd gets the entry), no systemctl, no apt-get
  --apt                with --root: still apt-get install Mosquitto on this machine
  -h, --help           show this help
EOF
}

log() { printf 'install: %s\n' "$*"; }
die() { printf 'install: error: %s\n' "$*" >&2; exit 1; }

ROOT="" UPGRADE=0 EXTRA="" SOURCE="$SRC_TREE" PYTHON=python3 VENV=1 AGENT_ID="" START=1
MOSQUITTO=0 TLS_CERT="" TLS_KEY="" TLS_CA="" APT_IN_ROOT=0
BRIDGE="" BRIDGE_CA="" BRIDGE_USER="" BRIDGE_PASSWORD_FILE="" BRIDGE_QUEUE=100000
PIP_ARGS=() WATCH_ROOTS=() VENV_ARGS=()

need_arg() { [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value (see --help)"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --upgrade) UPGRADE=1 ;;
    --cpu) EXTRA=cpu ;;
    --gpu) EXTRA=gpu ;;
    --source) need_arg "$@"; SOURCE=$2; shift ;;
    --pip-arg) need_arg "$@"; PIP_ARGS+=("$2"); shift ;;
    --python) need_arg "$@"; PYTHON=$2; shift ;;
    --no-venv) VENV=0 ;;
    --system-site-packages) VENV_ARGS+=(--system-site-packages) ;;
    --agent-id) need_arg "$@"; AGENT_ID=$2; shift ;;
    --watch) need_arg "$@"; WATCH_ROOTS+=("$2"); shift ;;
    --mosquitto) MOSQUITTO=1 ;;
    --tls-cert) need_arg "$@"; TLS_CERT=$2; shift ;;
    --tls-key) need_arg "$@"; TLS_KEY=$2; shift ;;
    --tls-ca) need_arg "$@"; TLS_CA=$2; shift ;;
    --bridge) need_arg "$@"; BRIDGE=$2; shift ;;
    --bridge-ca) need_arg "$@"; BRIDGE_CA=$2; shift ;;
    --bridge-user) need_arg "$@"; BRIDGE_USER=$2; shift ;;
    --bridge-password-file) need_arg "$@"; BRIDGE_PASSWORD_FILE=$2; shift ;;
    --bridge-queue) need_arg "$@"; BRIDGE_QUEUE=$2; shift ;;
    --no-start) START=0 ;;
    --root) need_arg "$@"; ROOT=$(realpath -m "$2"); shift ;;
    --apt) APT_IN_ROOT=1 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
  shift
done

[ -n "$ROOT" ] || [ "$(id -u)" -eq 0 ] || die "run as root (sudo deploy/install.sh ...), or use --root DIR"
[ -z "$TLS_CERT$TLS_KEY$TLS_CA" ] || [ "$MOSQUITTO" -eq 1 ] || die "--tls-cert/--tls-key/--tls-ca go with --mosquitto"
if [ -n "$TLS_CERT" ] && [ -z "$TLS_KEY" ] || { [ -z "$TLS_CERT" ] && [ -n "$TLS_KEY" ]; }; then
  die "--tls-cert and --tls-key go together: give both"
fi
for dir in ${WATCH_ROOTS[@]+"${WATCH_ROOTS[@]}"}; do
  case "$dir" in
    /*\'*|/*$'\n'*) die "--watch '$dir': a folder name with a quote or newline is not supported" ;;
    /*) ;;
    *) die "--watch '$dir' is not an absolute path: give the full path, e.g. /traps" ;;
  esac
done
[ -z "$BRIDGE_CA$BRIDGE_USER$BRIDGE_PASSWORD_FILE" ] || [ -n "$BRIDGE" ] ||
  die "--bridge-ca/--bridge-user/--bridge-password-file go with --bridge HOST:PORT"
[ -z "$BRIDGE" ] || [ "$MOSQUITTO" -eq 1 ] ||
  die "--bridge configures the box's local Mosquitto: add --mosquitto"
if [ -n "$BRIDGE" ]; then
  [[ "$BRIDGE" =~ ^[A-Za-z0-9][A-Za-z0-9.-]*:[0-9]{1,5}$ ]] && [ "${BRIDGE##*:}" -ge 1 ] &&
    [ "${BRIDGE##*:}" -le 65535 ] ||
    die "--bridge '$BRIDGE' is not HOST:PORT, e.g. station.example.org:8883"
  [[ "$BRIDGE_QUEUE" =~ ^[1-9][0-9]*$ ]] || die "--bridge-queue '$BRIDGE_QUEUE' is not a positive number"
  [ -z "$BRIDGE_USER" ] || [[ "$BRIDGE_USER" =~ ^[A-Za-z0-9_.@-]+$ ]] ||
    die "--bridge-user '$BRIDGE_USER': use letters, digits, '_', '.', '@' or '-'"
fi
for f in "$TLS_CERT" "$TLS_KEY" "$TLS_CA" "$BRIDGE_CA" "$BRIDGE_PASSWORD_FILE"; do
  [ -z "$f" ] || [ -r "$f" ] || die "cannot read $f: check the path"
done

OPT=$ROOT/opt/bearagent VENV_DIR=$ROOT/opt/bearagent/venv ETC=$ROOT/etc/bearagent
STATE=$ROOT/var/lib/bearagent CACHE=$ROOT/var/cache/bearagent
UNIT_DIR=$ROOT/etc/systemd/system DROPIN=$ROOT/etc/systemd/system/bearagent.service.d
CONFIG=$ETC/config.toml

# shellcheck source=deploy/common.sh
. "$HERE/common.sh"
# shellcheck source=deploy/install-parts.sh
. "$HERE/install-parts.sh"

[ "$UPGRADE" -eq 0 ] || [ -f "$UNIT_DIR/bearagent.service" ] ||
  die "nothing to upgrade below ${ROOT:-/}: run without --upgrade to install"

choose_extra() {
  [ -z "$EXTRA" ] || return 0
  if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then EXTRA=gpu
  elif [ -e "$ROOT/etc/nv_tegra_release" ]; then EXTRA=gpu
  else EXTRA=cpu
  fi
  log "no --cpu/--gpu given: chose '$EXTRA'"
}

install_venv() {
  if [ "$VENV" -eq 0 ]; then log "--no-venv: leaving $VENV_DIR as it is"; return; fi
  if [ -x "$VENV_DIR/bin/bearagent" ] && [ "$UPGRADE" -eq 0 ]; then
    log "$VENV_DIR already has bearagent (use --upgrade to update it)"; return
  fi
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null ||
    die "$PYTHON is not Python 3.11 or newer: install python3.11 (and python3.11-venv) or pass --python"
  if [ ! -x "$VENV_DIR/bin/python" ]; then
    "$PYTHON" -m venv ${VENV_ARGS[@]+"${VENV_ARGS[@]}"} "$VENV_DIR" ||
      die "could not create $VENV_DIR: apt-get install python3-venv, then run again"
  fi
  # A source tree or wheel gets the extra appended; a pip spec is used as given.
  local spec=$SOURCE
  if [ -e "$SOURCE" ]; then spec="$(realpath "$SOURCE")[$EXTRA,review]"; fi
  log "installing $spec into $VENV_DIR"
  "$VENV_DIR/bin/python" -m pip install --quiet --upgrade ${PIP_ARGS[@]+"${PIP_ARGS[@]}"} "$spec"
  [ -d "$SOURCE" ] && [ -f "$SOURCE/README.md" ] && install -m 0644 "$SOURCE/README.md" "$OPT/README.md"
  return 0
}

write_config() {
  if [ -e "$CONFIG" ]; then log "keeping $CONFIG"; return; fi
  local id=${AGENT_ID:-$(hostname -s 2>/dev/null || echo field-box)} toml_roots='"/traps"'
  id=$(printf '%s' "$id" | tr -c 'A-Za-z0-9_.\n-' '-' | cut -c1-64)
  if [ ${#WATCH_ROOTS[@]} -gt 0 ]; then
    # TOML literal strings ('...'): no escapes inside; then escaped for sed.
    toml_roots=$(printf "'%s', " "${WATCH_ROOTS[@]}"); toml_roots=${toml_roots%, }
    toml_roots=$(printf '%s' "$toml_roots" | sed -e 's/[\\&|]/\\&/g')
  fi
  local tmp=$CONFIG.new
  sed -e "s|^id = \"field-box\"|id = \"$id\"|" -e "s|^roots = \\[\"/traps\"\\]|roots = [$toml_roots]|" \
    "$HERE/config.example.toml" > "$tmp"
  if [ "$MOSQUITTO" -eq 1 ]; then
    sed -i -E 's/^# (username|password_file|allow_plaintext_credentials) = /\1 = /' "$tmp"
  fi
  chmod 0640 "$tmp"; own root:bearagent "$tmp"; mv "$tmp" "$CONFIG"
  log "wrote $CONFIG (agent id '$id'): edit it, then check it with 'bearagent check-config'"
}

install_unit() {
  install -d -m 0755 "$UNIT_DIR" "$DROPIN"
  install -m 0644 "$SRC_TREE/systemd/bearagent.service" "$UNIT_DIR/bearagent.service"
  write_watch_dropin
  write_gpu_dropin
  log "installed $UNIT_DIR/bearagent.service"
  install_review_unit
}

# The review page's unit: same sandbox, same read-only watch roots (it shows the chips).
install_review_unit() {
  local dropin=$UNIT_DIR/bearagent-review.service.d
  install -d -m 0755 "$dropin"
  install -m 0644 "$SRC_TREE/systemd/bearagent-review.service" "$UNIT_DIR/bearagent-review.service"
  if [ -f "$DROPIN/watch-roots.conf" ]; then
    install -m 0644 "$DROPIN/watch-roots.conf" "$dropin/watch-roots.conf"
  fi
  log "installed $UNIT_DIR/bearagent-review.service (not enabled until a password is set)"
}

# An installed review page restarts with the new package; a new one waits for its password.
review_apply() {
  if systemd_running && [ "$UPGRADE" -eq 1 ]; then systemctl try-restart bearagent-review || true; fi
  if ! systemd_running || ! systemctl is-enabled --quiet bearagent-review 2>/dev/null; then
    log "review page: set its password with '$VENV_DIR/bin/bearagent review passwd"
    log "$ETC/review-password', then 'systemctl enable --now bearagent-review' (docs/review.md)"
  fi
}

main() {
  choose_extra
  make_user
  install -d -m 0755 "$OPT"
  install -d -m 0750 "$ETC" "$STATE" "$CACHE"
  own root:bearagent "$ETC"; own bearagent:bearagent "$STATE" "$CACHE"
  install -m 0644 "$HERE/config.example.toml" "$OPT/config.example.toml"
  install_venv
  write_config
  # The credential file must exist for LoadCredential=; root-only, systemd reads it.
  [ -e "$ETC/mqtt-password" ] || install -m 0600 /dev/null "$ETC/mqtt-password"
  [ -e "$ETC/review-password" ] || install -m 0600 /dev/null "$ETC/review-password"
  [ "$MOSQUITTO" -eq 0 ] || setup_mosquitto
  install_unit
  check_config
  systemd_apply
  review_apply
  if [ "$UPGRADE" -eq 1 ]; then
    log "upgraded; config, gallery and credentials kept. Follow it: journalctl -u bearagent -f"
  else
    log "done. Next: put embedder.onnx (+ .json) in /var/lib/bearagent, enrol the gallery,"
    log "then 'systemctl start bearagent' and follow it with 'journalctl -u bearagent -f'"
  fi
}

main
