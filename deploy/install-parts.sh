# The steps of install.sh (sourced by it, not run): user, drop-ins, Mosquitto, systemctl.

make_user() {
  if has_user; then return 0; fi
  if [ -z "$ROOT" ]; then
    useradd --system --user-group --home-dir /var/lib/bearagent --no-create-home \
      --shell /usr/sbin/nologin --comment "bearid field agent" bearagent
    log "created the system user 'bearagent'"
    return 0
  fi
  # Staging root: record the user in DIR/etc/passwd and DIR/etc/group, like useradd
  # --system would (the highest free id below 1000), without touching this machine.
  install -d -m 0755 "$ROOT/etc"
  touch "$ROOT/etc/passwd" "$ROOT/etc/group"
  local id=999
  while cut -d: -f3 "$ROOT/etc/passwd" "$ROOT/etc/group" | grep -qx "$id"; do id=$((id - 1)); done
  echo "bearagent:x:$id:$id:bearid field agent:/var/lib/bearagent:/usr/sbin/nologin" >> "$ROOT/etc/passwd"
  echo "bearagent:x:$id:" >> "$ROOT/etc/group"
  log "--root: added the user 'bearagent' ($id) to $ROOT/etc/passwd, not to this machine"
}

# One quoted systemd path argument: '%' is a specifier there; '\' and '"' are escaped.
unit_path() {
  local p=${1//\\/\\\\}
  p=${p//\"/\\\"}
  printf '"%s"' "${p//%/%%}"
}

# ReadOnlyPaths= for every watch root in the config: the agent reads them, never writes.
write_watch_dropin() {
  local file=$DROPIN/watch-roots.conf roots=() root home=0
  if ! config_python >/dev/null; then
    log "warning: no Python 3.11 to read watch.roots from $CONFIG: $file not written"
    return 0
  fi
  mapfile -t roots < <(config_values watch.roots)
  {
    echo "# Written by deploy/install.sh from watch.roots in /etc/bearagent/config.toml; it is"
    echo "# rewritten on every install/upgrade: after changing the roots, run"
    echo "# 'deploy/install.sh --upgrade --no-venv'. '-': a root missing at start is skipped."
    echo "[Service]"
    for root in ${roots[@]+"${roots[@]}"}; do
      case "$root" in
        /home|/home/*|/root|/root/*|/run/user/*)
          # Under ProtectHome=yes these are hidden; tmpfs + a bind shows just the root.
          home=1; echo "BindReadOnlyPaths=$(unit_path "-$root")" ;;
        /*) echo "ReadOnlyPaths=$(unit_path "-$root")" ;;
        *) log "warning: watch root '$root' is not an absolute path: not listed" ;;
      esac
    done
    [ "$home" -eq 0 ] || echo "ProtectHome=tmpfs"
  } > "$file.new"
  chmod 0644 "$file.new"; mv "$file.new" "$file"
  log "wrote $file (${#roots[@]} watch roots, read-only)"
}

# On a GPU box: see the NVIDIA device nodes (and nothing else) instead of PrivateDevices=.
write_gpu_dropin() {
  local file=$DROPIN/gpu.conf node
  if [ "$EXTRA" != gpu ]; then rm -f "$file"; return 0; fi
  {
    echo "# Written by deploy/install.sh for a GPU box; rewritten on every install/upgrade."
    echo "# PrivateDevices=yes would hide /dev/nvidia*; instead the device cgroup allows only"
    echo "# the NVIDIA nodes (by driver name, so nodes created after boot count too)."
    echo "[Service]"
    echo "PrivateDevices=no"
    echo "DevicePolicy=closed"
    for name in nvidia nvidiactl nvidia-frontend nvidia-uvm nvidia-modeset; do
      echo "DeviceAllow=char-$name rw"
    done
    echo "DeviceAllow=char-nvidia-caps r"
    # Jetson: its GPU nodes have other names; allow the ones present now.
    for node in "$ROOT"/dev/nvhost-* "$ROOT"/dev/nvmap "$ROOT"/dev/nvgpu/*/*; do
      if [ -e "$node" ]; then echo "DeviceAllow=${node#"$ROOT"} rw"; fi
    done
    if [ -e "$ROOT/etc/nv_tegra_release" ] && has_group video; then
      echo "SupplementaryGroups=video"
    fi
  } > "$file.new"
  chmod 0644 "$file.new"; mv "$file.new" "$file"
  log "wrote $file (NVIDIA devices)"
}

have_mosquitto_tools() { PATH="$PATH:/usr/sbin" command -v mosquitto_passwd >/dev/null; }

setup_mosquitto() {
  if ! have_mosquitto_tools || { [ -z "$ROOT" ] && ! PATH="$PATH:/usr/sbin" command -v mosquitto >/dev/null; }; then
    if [ -n "$ROOT" ] && [ "$APT_IN_ROOT" -eq 0 ]; then
      die "--mosquitto needs mosquitto_passwd on this machine: apt-get install mosquitto, or add --apt"
    fi
    log "installing Debian's mosquitto"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mosquitto >/dev/null
  fi
  local pwfile=$ETC/mqtt-password mdir=$ROOT/etc/mosquitto
  if [ ! -s "$pwfile" ]; then
    # 32 random characters: only the agent (through the credential) and root know it.
    (umask 077; head -c 64 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | head -c 32 > "$pwfile")
    log "generated the broker password in $pwfile"
  fi
  install -d -m 0755 "$mdir/conf.d"
  write_broker_passwords "$pwfile" "$mdir/bearagent.passwd"
  [ -z "$BRIDGE" ] || prepare_bridge
  write_broker_conf "$mdir"
}

# --bridge: the agent id and bridge user, and the bridge's password in
# $ETC/bridge-password (given, kept, or generated).
prepare_bridge() {
  local pw=$ETC/bridge-password
  BRIDGE_AGENT=$(config_values agent.id | head -n1) ||
    die "cannot read agent.id from $CONFIG (needs Python 3.11)"
  [ -n "$BRIDGE_AGENT" ] || die "$CONFIG has no agent.id: --bridge needs it for the topics"
  BRIDGE_USER=${BRIDGE_USER:-$BRIDGE_AGENT}
  if [ -n "$BRIDGE_PASSWORD_FILE" ]; then
    if ! cmp -s "$BRIDGE_PASSWORD_FILE" "$pw"; then
      install -m 0600 "$BRIDGE_PASSWORD_FILE" "$pw"
      log "installed the bridge password as $pw"
    fi
  elif [ ! -s "$pw" ]; then
    (umask 077; head -c 64 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | head -c 32 > "$pw")
    log "generated the bridge password in $pw: add this box on the station with"
    log "  deploy/station/install.sh --add-box $BRIDGE_USER --box-password-file <a copy of it>"
  fi
  [[ "$(head -n1 "$pw")" =~ ^[!-~]+$ ]] ||
    die "the bridge password in $pw must be one line of printable characters without spaces"
}

# The bridge block of bearagent.conf (printed): this box's topics go out with QoS 1, what
# the station sends it comes in.
write_bridge_section() {
  local id=$BRIDGE_AGENT prefix inbound certs=$1/certs/bearagent
  prefix=$(config_values mqtt.topic_prefix | head -n1)
  prefix=${prefix:-bearid/\{agent_id\}/}
  prefix=${prefix//\{agent_id\}/$id}
  inbound=$(config_values mqtt.station_topic_prefix | head -n1)
  inbound=${inbound:-bearid-station/\{agent_id\}/}
  inbound=${inbound//\{agent_id\}/$id}
  echo "# Bridge to the base station's broker (install.sh --bridge): this box's messages go"
  echo "# out with QoS 1, and what the station sends this box comes in. While the link is"
  echo "# down they wait here, up to max_queued_messages (saved to disk every"
  echo "# autosave_interval seconds); the box also keeps every message until the station's"
  echo "# receipt, so an overflow or a power cut here only delays them."
  echo "max_queued_messages $BRIDGE_QUEUE"
  echo "autosave_interval 60"
  echo "connection bearid-station"
  echo "address $BRIDGE"
  echo "bridge_protocol_version mqttv50"
  echo "remote_clientid bearid-bridge-$id"
  echo "remote_username $BRIDGE_USER"
  echo "remote_password $(head -n1 "$ETC/bridge-password")"
  echo "topic $prefix# out 1"
  echo "topic $inbound# in 1"
  echo "cleansession false"
  echo "local_cleansession false"
  echo "try_private false"
  echo "notifications true"
  echo "notifications_local_only true"
  echo "restart_timeout 5 300"
  echo "keepalive_interval 60"
  if [ -n "$BRIDGE_CA" ]; then
    install -d -m 0750 "$certs"
    install -m 0644 "$BRIDGE_CA" "$certs/station-ca.crt"
    echo "bridge_cafile /etc/mosquitto/certs/bearagent/station-ca.crt"
  else
    echo "bridge_capath /etc/ssl/certs"
  fi
  echo "bridge_tls_version tlsv1.2"
  echo "bridge_insecure false"
}

# The broker's password file: the 'bearagent' entry from $1, other users in $2 kept.
write_broker_passwords() {
  local pwfile=$1 target=$2 tmp
  if [ -e "$target" ] && [ ! "$pwfile" -nt "$target" ] && grep -q '^bearagent:' "$target"; then
    return 0
  fi
  tmp=$(mktemp "$target.XXXXXX")
  # Hash a plain 'user:password' file in place (-U): the password never appears in argv.
  printf 'bearagent:%s\n' "$(cat "$pwfile")" > "$tmp"
  PATH="$PATH:/usr/sbin" mosquitto_passwd -U "$tmp"
  [ ! -e "$target" ] || grep -v '^bearagent:' "$target" >> "$tmp" || true
  chmod 0640 "$tmp"
  if has_group mosquitto; then own root:mosquitto "$tmp"; fi
  mv "$tmp" "$target"
  log "wrote the broker's password file $target (user 'bearagent')"
}

write_broker_conf() {
  local mdir=$1 certs=$1/certs/bearagent conf=$1/conf.d/bearagent.conf
  {
    echo "# Written by bearid's deploy/install.sh --mosquitto; rewritten on every run."
    echo "per_listener_settings false"
    echo "allow_anonymous false"
    echo "password_file /etc/mosquitto/bearagent.passwd"
    echo "# The agent, on this box."
    echo "listener 1883 127.0.0.1"
    if [ -n "$TLS_CERT" ]; then
      install -d -m 0750 "$certs"
      install -m 0644 "$TLS_CERT" "$certs/server.crt"
      install -m 0640 "$TLS_KEY" "$certs/server.key"
      if has_group mosquitto; then own root:mosquitto "$certs" "$certs/server.key"; fi
      echo "# Consumers on the network, over TLS only."
      echo "listener 8883"
      echo "certfile /etc/mosquitto/certs/bearagent/server.crt"
      echo "keyfile /etc/mosquitto/certs/bearagent/server.key"
      if [ -n "$TLS_CA" ]; then
        install -m 0644 "$TLS_CA" "$certs/ca.crt"
        echo "cafile /etc/mosquitto/certs/bearagent/ca.crt"
      fi
      echo "tls_version tlsv1.2"
    fi
    [ -z "$BRIDGE" ] || write_bridge_section "$mdir"
  } > "$conf.new"
  if [ -n "$BRIDGE" ]; then  # it holds the bridge's password: root and mosquitto only
    chmod 0640 "$conf.new"
    if has_group mosquitto; then own root:mosquitto "$conf.new"; fi
  else
    chmod 0644 "$conf.new"
  fi
  mv "$conf.new" "$conf"
  log "wrote $conf${BRIDGE:+ (bridged to $BRIDGE)}"
}

check_config() {
  if [ ! -x "$VENV_DIR/bin/bearagent" ]; then return 0; fi
  "$VENV_DIR/bin/bearagent" check-config "$CONFIG" ||
    log "warning: fix $CONFIG before starting the service (the problems are listed above)"
}

systemd_apply() {
  if [ -n "$ROOT" ]; then
    log "--root: not calling systemctl (a real install runs daemon-reload and enable bearagent)"
    return 0
  fi
  if ! systemd_running; then
    log "systemd is not running here (container or chroot?): enable the unit on the box with"
    log "'systemctl daemon-reload && systemctl enable --now bearagent'"
    return 0
  fi
  systemctl daemon-reload
  if [ "$MOSQUITTO" -eq 1 ]; then systemctl enable --quiet mosquitto; systemctl restart mosquitto; fi
  systemctl enable --quiet bearagent
  local model
  model=$(config_values runtime.model | head -n1)
  model=${model:-/var/lib/bearagent/embedder.onnx}
  if [ "$START" -eq 0 ]; then log "--no-start: not starting bearagent"
  elif [ ! -e "$model" ]; then log "not starting bearagent yet: $model does not exist"
  elif [ "$UPGRADE" -eq 1 ]; then systemctl restart bearagent; log "bearagent restarted"
  else systemctl start bearagent; log "bearagent started"
  fi
}
