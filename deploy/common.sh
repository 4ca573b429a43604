# Shared by install.sh and uninstall.sh (sourced, not run). Expects ROOT ("" for the real
# system, else a staging directory), ETC, CONFIG and VENV_DIR, and the functions log / die.

# A Python 3.11+ that can read TOML: the agent's venv first, then the system's.
config_python() {
  local py
  for py in "$VENV_DIR/bin/python" python3; do
    if command -v "$py" >/dev/null 2>&1 &&
       "$py" -c 'import sys, tomllib; sys.exit(0)' >/dev/null 2>&1; then
      echo "$py"; return 0
    fi
  done
  return 1
}

# The value(s) of a dotted KEY in the config, one a line (lists one item a line); nothing
# when the key is absent. Fails when no Python can read TOML.
config_values() {
  local py
  py=$(config_python) || return 1
  "$py" - "$CONFIG" "$1" <<'PY'
import sys, tomllib

with open(sys.argv[1], "rb") as f:
    node = tomllib.load(f)
for part in sys.argv[2].split("."):
    node = node.get(part) if isinstance(node, dict) else None
for value in node if isinstance(node, list) else ([] if node is None else [node]):
    print(value)
PY
}

# systemd is PID 1 here (not a container, not a chroot) and we act on the real system.
systemd_running() { [ -z "$ROOT" ] && [ -d /run/systemd/system ]; }

# chown, except below --root, where the staged tree keeps its owner (no such user here).
own() {
  local owner=$1; shift
  [ -n "$ROOT" ] || chown "$owner" "$@"
}

has_user() {
  if [ -n "$ROOT" ]; then grep -q '^bearagent:' "$ROOT/etc/passwd" 2>/dev/null
  else getent passwd bearagent >/dev/null
  fi
}

has_group() {
  if [ -n "$ROOT" ]; then grep -q "^$1:" "$ROOT/etc/group" 2>/dev/null
  else getent group "$1" >/dev/null
  fi
}
