#!/usr/bin/env bash
# Set up a development machine: Debian packages the tests need (mosquitto, systemd, postgresql), then
# .venv with bearid and every extra that runs on a CPU (cpu, train, export, station, review,
# test); chromium for the review page's browser tests.
# Idempotent and quick when nothing changed. Run as root or with passwordless sudo
# when Debian packages are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${BEARID_VENV:-.venv}
EXTRAS=${BEARID_EXTRAS:-cpu,train,export,station,review,test}
DEBIAN_PACKAGES=(mosquitto systemd postgresql chromium chromium-driver)  # systemd:
# systemd-analyze for the unit tests; postgresql: the real server the station tests start in
# a temporary folder; chromium + chromium-driver: the review page's browser tests

log() { printf 'setup: %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"
  else
    log "need root to run: $*  (run this script as root, or install those packages yourself)"
    exit 1
  fi
}

apt_install() {
  command -v apt-get >/dev/null || { log "no apt-get: install $* with your package manager"; exit 1; }
  log "installing Debian packages: $*"
  # Keep packaged services (mosquitto's own on port 1883) from starting inside the setup.
  as_root env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 \
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

have_binary() { PATH="$PATH:/usr/sbin:/usr/local/sbin" command -v "$1" >/dev/null; }

missing=()
# PostgreSQL's tools live in /usr/lib/postgresql/<version>/bin, not on $PATH.
have_package() {
  if [ "$1" = postgresql ]; then compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
  elif [ "$1" = chromium-driver ]; then have_binary chromedriver
  else have_binary "$1"
  fi
}
for pkg in "${DEBIAN_PACKAGES[@]}"; do have_package "$pkg" || missing+=("$pkg"); done
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"

pick_python() {
  for candidate in ${PYTHON:-} python3.11 python3 python; do
    if command -v "$candidate" >/dev/null &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"; return
    fi
  done
  log "Python 3.11 or newer not found (set PYTHON=/path/to/python3.11)"; exit 1
}

if [ ! -x "$VENV/bin/python" ]; then
  py=$(pick_python)
  log "creating $VENV with $($py --version)"
  if ! "$py" -m venv "$VENV" 2>/dev/null; then
    rm -rf "$VENV"
    apt_install python3-venv "python3.$("$py" -c 'import sys; print(sys.version_info.minor)')-venv"
    "$py" -m venv "$VENV"
  fi
fi

# Reinstall only when the dependency declaration changed.
stamp="$VENV/.bearid-setup"
want="$(sha256sum pyproject.toml | cut -d' ' -f1) $EXTRAS"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing bearid[$EXTRAS] into $VENV (first time: a few minutes, torch is large)"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e ".[$EXTRAS]"
  echo "$want" > "$stamp"
fi
log "ready: $VENV ($("$VENV/bin/python" --version)), bearid $("$VENV/bin/python" -c 'import bearagent; print(bearagent.__version__)')"
