# The steps of deploy/station/install.sh (sourced by it, not run). Expects ROOT, ETC, STATE,
# CONFIG, VENV_DIR, MDIR and the options, and the functions log / die.

own() {  # chown, except below --root, where the staged tree keeps its owner
  local owner=$1; shift
  [ -n "$ROOT" ] || chown "$owner" "$@"
}

has_user() {
  if [ -n "$ROOT" ]; then grep -q '^bear-station:' "$ROOT/etc/passwd" 2>/dev/null
  else getent passwd bear-station >/dev/null
  fi
}

has_group() {
  if [ -n "$ROOT" ]; then grep -q "^$1:" "$ROOT/etc/group" 2>/dev/null
  else getent group "$1" >/dev/null
  fi
}

systemd_running() { [ -z "$ROOT" ] && [ -d /run/systemd/system ]; }

make_user() {
  if has_user; then return 0; fi
  if [ -z "$ROOT" ]; then
    useradd --system --user-group --home-dir /var/lib/bear-station --no-create-home \
      --shell /usr/sbin/nologin --comment "bearid base station" bear-station
    log "created the system user 'bear-station'"
    return 0
  fi
  install -d -m 0755 "$ROOT/etc"
  touch "$ROOT/etc/passwd" "$ROOT/etc/group"
  local id=999
  while cut -d: -f3 "$ROOT/etc/passwd" "$ROOT/etc/group" | grep -qx "$id"; do id=$((id - 1)); done
  echo "bear-station:x:$id:$id:bearid base station:/var/lib/bear-station:/usr/sbin/nologin" >> "$ROOT/etc/passwd"
  echo "bear-station:x:$id:" >> "$ROOT/etc/group"
  log "--root: added the user 'bear-station' ($id) to $ROOT/etc/passwd, not to this machine"
}

install_venv() {
  if [ "$VENV" -eq 0 ]; then log "--no-venv: leaving $VENV_DIR as it is"; return; fi
  if [ -x "$VENV_DIR/bin/bear-station" ] && [ "$UPGRADE" -eq 0 ]; then
    log "$VENV_DIR already has bear-station (use --upgrade to update it)"; return
  fi
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null ||
    die "$PYTHON is not Python 3.11 or newer: install python3.11 (and python3.11-venv) or pass --python"
  if [ ! -x "$VENV_DIR/bin/python" ]; then
    "$PYTHON" -m venv "$VENV_DIR" || die "could not create $VENV_DIR: apt-get install python3-venv"
  fi
  local spec=$SOURCE
  if [ -e "$SOURCE" ]; then spec="$(realpath "$SOURCE")[station]"; fi
  log "installing $spec into $VENV_DIR"
  "$VENV_DIR/bin/python" -m pip install --quiet --upgrade ${PIP_ARGS[@]+"${PIP_ARGS[@]}"} "$spec"
  if [ -d "$SOURCE" ] && [ -f "$SOURCE/docs/station.md" ]; then
    install -m 0644 "$SOURCE/docs/station.md" "$OPT/README.md"
  fi
  return 0
}

# TOML for a new config: the example's comments and sections, with --db and --broker.
write_config() {
  if [ -e "$CONFIG" ]; then log "keeping $CONFIG"; return; fi
  local db=${DB:-sqlite:////var/lib/bear-station/bearstation.db} url tmp=$CONFIG.new
  if [ ${#BROKERS[@]} -eq 0 ] && [ "$MOSQUITTO" -eq 1 ]; then
    BROKERS=("mqtt://bear-station@127.0.0.1:1883")
  fi
  sed -e "s|^database = .*|database = '${db//&/\\&}'|" -e '/^# BROKERS$/,$d' \
    "$HERE/config.example.toml" > "$tmp"
  sed -n '/^# BROKERS$/,$p' "$HERE/config.example.toml" | tail -n +2 >> "$tmp"
  for url in ${BROKERS[@]+"${BROKERS[@]}"}; do
    printf "\n[[brokers]]\nurl = '%s'\n" "$url" >> "$tmp"
    case "$url" in
      *@127.0.0.1:*|*@localhost:*)
        printf 'password_file = "mqtt-password"\n' >> "$tmp"
        printf '# The password never leaves this machine: loopback only.\n' >> "$tmp"
        printf 'allow_plaintext_credentials = true\n' >> "$tmp" ;;
      *@*) printf 'password_file = "mqtt-password"\n' >> "$tmp" ;;
    esac
  done
  chmod 0640 "$tmp"; own root:bear-station "$tmp"; mv "$tmp" "$CONFIG"
  log "wrote $CONFIG: edit it, then check it with 'bear-station check-config $CONFIG'"
}

have_mosquitto_tools() { PATH="$PATH:/usr/sbin" command -v mosquitto_passwd >/dev/null; }

# The station's broker: passwords, ACL and listeners in /etc/mosquitto.
setup_station_broker() {
  if ! have_mosquitto_tools; then
    [ -z "$ROOT" ] || die "--mosquitto needs mosquitto_passwd on this machine: apt-get install mosquitto"
    log "installing Debian's mosquitto"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mosquitto >/dev/null
  fi
  local pwfile=$ETC/mqtt-password
  if [ ! -s "$pwfile" ]; then
    (umask 077; head -c 64 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | head -c 32 > "$pwfile")
    log "generated the station's broker password in $pwfile"
  fi
  install -d -m 0755 "$MDIR/conf.d"
  set_broker_password bear-station "$pwfile"
  write_acl
  write_station_broker_conf
}

# Put `user`'s password (from file $2) into the broker's password file, hashed; others kept.
# Unchanged when the entry exists and the file is not newer (a new salt is a change).
set_broker_password() {
  local user=$1 source=$2 target=$MDIR/bear-station.passwd tmp
  if [ -e "$target" ] && [ ! "$source" -nt "$target" ] && grep -q "^$user:" "$target"; then
    return 0
  fi
  tmp=$(mktemp "$target.XXXXXX")
  printf '%s:%s\n' "$user" "$(head -n1 "$source")" > "$tmp"
  PATH="$PATH:/usr/sbin" mosquitto_passwd -U "$tmp"  # hashes in place: no password in argv
  [ ! -e "$target" ] || grep -v "^$user:" "$target" >> "$tmp" || true
  chmod 0640 "$tmp"
  if has_group mosquitto; then own root:mosquitto "$tmp"; fi
  mv "$tmp" "$target"
  log "set the broker password of '$user' in $target"
}

# The ACL: the station reads bearid/# and writes bearid-station/# (receipts, the gallery
# feed, desk decisions, model offers); each box writes only its own bearid/<id>/# and reads
# only its own bearid-station/<id>/#.
write_acl() {
  local acl=$MDIR/bear-station.acl user
  {
    echo "# Written by bearid's deploy/station/install.sh from the users of bear-station.passwd;"
    echo "# rewritten on every run. A box (user = its agent id) writes only its own topics and"
    echo "# reads only what the station sends it."
    echo "user bear-station"
    echo "topic read bearid/#"
    echo "topic write bearid-station/#"
    [ ! -e "$MDIR/bear-station.passwd" ] || cut -d: -f1 "$MDIR/bear-station.passwd" | sort |
      while read -r user; do
        [ "$user" = bear-station ] && continue
        printf '\nuser %s\ntopic write bearid/%s/#\ntopic read bearid-station/%s/#\n' \
          "$user" "$user" "$user"
      done
  } > "$acl.new"
  chmod 0640 "$acl.new"
  if has_group mosquitto; then own root:mosquitto "$acl.new"; fi
  mv "$acl.new" "$acl"
}

write_station_broker_conf() {
  local conf=$MDIR/conf.d/bear-station.conf certs=$MDIR/certs/bear-station
  install -d -m 0750 "$certs"
  install -m 0644 "$TLS_CERT" "$certs/server.crt"
  install -m 0640 "$TLS_KEY" "$certs/server.key"
  if has_group mosquitto; then own root:mosquitto "$certs" "$certs/server.key"; fi
  {
    echo "# Written by bearid's deploy/station/install.sh --mosquitto; rewritten on every run."
    echo "per_listener_settings false"
    echo "allow_anonymous false"
    echo "password_file /etc/mosquitto/bear-station.passwd"
    echo "acl_file /etc/mosquitto/bear-station.acl"
    echo "# The station's session queues events while bear-station is stopped."
    echo "max_queued_messages 1000000"
    echo "# bear-station, on this machine."
    echo "listener 1883 127.0.0.1"
    echo "# The boxes' bridges, over TLS only."
    echo "listener 8883"
    echo "certfile /etc/mosquitto/certs/bear-station/server.crt"
    echo "keyfile /etc/mosquitto/certs/bear-station/server.key"
    echo "tls_version tlsv1.2"
  } > "$conf.new"
  chmod 0644 "$conf.new"; mv "$conf.new" "$conf"
  log "wrote $conf"
}

add_box() {
  [ -e "$MDIR/conf.d/bear-station.conf" ] ||
    die "--add-box needs the station's Mosquitto: run with --mosquitto first"
  [[ "$(head -n1 "$BOX_PASSWORD_FILE")" =~ ^[!-~]+$ ]] ||
    die "$BOX_PASSWORD_FILE must hold the password on one line, without spaces"
  set_broker_password "$ADD_BOX" "$BOX_PASSWORD_FILE"
  write_acl
  log "box '$ADD_BOX' may now bridge to this broker (it writes bearid/$ADD_BOX/# only)"
  if systemd_running; then systemctl reload-or-restart mosquitto; fi
}

check_config() {
  [ -x "$VENV_DIR/bin/bear-station" ] || return 0
  "$VENV_DIR/bin/bear-station" check-config "$CONFIG" ||
    log "warning: fix $CONFIG before starting the service (the problems are listed above)"
}

systemd_apply() {
  if [ -n "$ROOT" ]; then
    log "--root: not calling systemctl (a real install runs daemon-reload and enable bear-station)"
    return 0
  fi
  if ! systemd_running; then
    log "systemd is not running here: enable the unit with 'systemctl enable --now bear-station'"
    return 0
  fi
  systemctl daemon-reload
  if [ "$MOSQUITTO" -eq 1 ]; then systemctl enable --quiet mosquitto; systemctl restart mosquitto; fi
  systemctl enable --quiet bear-station
  if [ "$START" -eq 0 ]; then log "--no-start: not starting bear-station"
  elif [ "$UPGRADE" -eq 1 ]; then systemctl restart bear-station; log "bear-station restarted"
  else systemctl start bear-station; log "bear-station started"
  fi
}
