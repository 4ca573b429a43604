"""deploy/install.sh and deploy/uninstall.sh, run for real inside throwaway roots (--root).

Nothing here touches the machine: --root writes below tmp_path, records the user in
DIR/etc/passwd and never calls systemctl or apt-get. The installed unit and drop-ins are
then checked with systemd-analyze, and the Mosquitto settings with a real broker.
"""

from __future__ import annotations

import getpass
import os
import queue
import sqlite3
import subprocess
import sys
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from support.broker import Mosquitto, free_port
from support.certs import make_tls_files
from test_systemd_unit import GOOD_LEVELS, exposure, stage_systemd, verify_problems

REPO = Path(__file__).resolve().parent.parent
INSTALL = REPO / "deploy" / "install.sh"
UNINSTALL = REPO / "deploy" / "uninstall.sh"
BEARAGENT = REPO / ".venv" / "bin" / "bearagent"


def run(script: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `script` with `args`; `path` replaces $PATH (to hide or fake nvidia-smi)."""
    env = {**os.environ, "PATH": path if path is not None else os.environ["PATH"]}
    return subprocess.run(
        ["bash", str(script), *args],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        check=False,
    )


def install(root: Path, *args: str, path: str | None = None) -> str:
    """install.sh --root `root` --no-venv; its output. Fails the test on a non-zero exit."""
    result = run(INSTALL, "--root", str(root), "--no-venv", *args, path=path)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def uninstall(root: Path, *args: str) -> str:
    result = run(UNINSTALL, "--root", str(root), *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every path below `root` with its mode and content (b'' for folders)."""
    return {
        str(p.relative_to(root)): (p.stat().st_mode, b"" if p.is_dir() else p.read_bytes())
        for p in sorted(root.rglob("*"))
    }


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o7777


def make_gallery(state: Path) -> Path:
    """A real SQLite file standing in for the agent's database, with one individual."""
    database = state / "bearagent.db"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE individuals (id TEXT PRIMARY KEY, name TEXT)")
        db.execute("INSERT INTO individuals VALUES ('bf-032', 'Otis')")
    return database


def individuals(database: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(database) as db:
        return list(db.execute("SELECT id, name FROM individuals"))


def test_help_and_bad_options() -> None:
    for script in (INSTALL, UNINSTALL):
        shown = run(script, "--help")
        assert shown.returncode == 0 and "--root DIR" in shown.stdout
    bad = run(INSTALL, "--bogus")
    assert bad.returncode == 1
    assert bad.stderr == "install: error: unknown option '--bogus' (see --help)\n"
    relative = run(INSTALL, "--root", "/tmp/x", "--watch", "traps")
    assert relative.stderr == (
        "install: error: --watch 'traps' is not an absolute path: give the full path, e.g. /traps\n"
    )


def test_install_writes_a_field_box_and_twice_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    install(root, "--cpu", "--agent-id", "box-7", "--watch", "/traps/north")
    first = snapshot(root)
    out = install(root, "--cpu", "--agent-id", "box-7", "--watch", "/traps/north")
    assert snapshot(root) == first
    assert "keeping" in out and "added the user" not in out

    unit = root / "etc/systemd/system/bearagent.service"
    assert unit.read_text() == (REPO / "systemd/bearagent.service").read_text()
    config = root / "etc/bearagent/config.toml"
    assert 'id = "box-7"' in config.read_text()
    assert "roots = ['/traps/north']" in config.read_text()
    assert mode(config) == 0o640
    # An empty credential: LoadCredential= needs the file; only root may read it.
    assert (root / "etc/bearagent/mqtt-password").read_text() == ""
    assert mode(root / "etc/bearagent/mqtt-password") == 0o600
    assert mode(root / "var/lib/bearagent") == 0o750
    passwd = (root / "etc/passwd").read_text().splitlines()
    assert [line.split(":")[0] for line in passwd] == ["bearagent"]
    dropin = root / "etc/systemd/system/bearagent.service.d"
    assert 'ReadOnlyPaths="-/traps/north"' in (dropin / "watch-roots.conf").read_text()
    assert not (dropin / "gpu.conf").exists()


def test_written_config_passes_check_config(mosquitto_binary: str, tmp_path: Path) -> None:
    if not BEARAGENT.exists():
        pytest.skip("no .venv/bin/bearagent (run tools/setup.sh)")
    for variant, extra in (("plain", []), ("broker", ["--mosquitto"])):
        root = tmp_path / variant
        install(root, "--cpu", *extra)
        result = subprocess.run(
            [str(BEARAGENT), "check-config", str(root / "etc/bearagent/config.toml")],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_installed_unit_and_drop_ins_verify_and_score_ok(tmp_path: Path) -> None:
    cpu, gpu = tmp_path / "cpu", tmp_path / "gpu"
    install(cpu, "--cpu", "--watch", "/traps", "--watch", "/home/ranger/camera chips")
    (gpu / "dev").mkdir(parents=True)
    (gpu / "dev/nvmap").touch()  # a Jetson's GPU node
    install(gpu, "--gpu")
    text = (cpu / "etc/systemd/system/bearagent.service.d/watch-roots.conf").read_text()
    assert 'BindReadOnlyPaths="-/home/ranger/camera chips"' in text
    assert "ProtectHome=tmpfs" in text
    gpu_conf = (gpu / "etc/systemd/system/bearagent.service.d/gpu.conf").read_text()
    assert "DeviceAllow=char-nvidia rw" in gpu_conf and "DeviceAllow=/dev/nvmap rw" in gpu_conf
    for root in (cpu, gpu):
        stage_systemd(root)
        assert verify_problems(root) == ""
        score, level = exposure(root)
        print(f"{root.name}: systemd-analyze security {score} {level}")
        assert level in GOOD_LEVELS


def test_gpu_is_detected_with_nvidia_smi(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA A2 (UUID: GPU-0)'\n")
    fake.chmod(0o755)
    root = tmp_path / "root"
    out = install(root, path=f"{bin_dir}:{os.environ['PATH']}")
    assert "chose 'gpu'" in out
    dropin = root / "etc/systemd/system/bearagent.service.d"
    assert "PrivateDevices=no" in (dropin / "gpu.conf").read_text()
    # Told --cpu on the next run (the GPU was removed): the GPU drop-in goes.
    install(root, "--upgrade", "--cpu")
    assert not (dropin / "gpu.conf").exists()


def test_jetson_gets_the_video_group(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/nv_tegra_release").write_text("# R36 (release), REVISION: 4.0\n")
    (root / "etc/group").write_text("video:x:44:\n")
    (root / "dev").mkdir()
    (root / "dev/nvhost-ctrl-gpu").touch()
    out = install(root, path="/usr/bin:/bin")
    assert "chose 'gpu'" in out
    gpu_conf = (root / "etc/systemd/system/bearagent.service.d/gpu.conf").read_text()
    assert "SupplementaryGroups=video" in gpu_conf
    assert "DeviceAllow=/dev/nvhost-ctrl-gpu rw" in gpu_conf


def test_upgrade_keeps_config_gallery_and_credentials(tmp_path: Path) -> None:
    root = tmp_path / "root"
    missing = run(INSTALL, "--root", str(root), "--no-venv", "--upgrade")
    assert missing.returncode == 1
    assert missing.stderr == (
        f"install: error: nothing to upgrade below {root}: run without --upgrade to install\n"
    )
    install(root, "--cpu")
    config = root / "etc/bearagent/config.toml"
    config.write_text(config.read_text().replace('site = "default"', 'site = "kamchatka"'))
    (root / "etc/bearagent/mqtt-password").write_text("broker-secret\n")
    database = make_gallery(root / "var/lib/bearagent")
    unit = root / "etc/systemd/system/bearagent.service"
    unit.write_text("# an old unit\n")

    out = install(root, "--upgrade", "--cpu")
    assert f"keeping {config}" in out
    assert 'site = "kamchatka"' in config.read_text()
    assert (root / "etc/bearagent/mqtt-password").read_text() == "broker-secret\n"
    assert individuals(database) == [("bf-032", "Otis")]
    assert unit.read_text() == (REPO / "systemd/bearagent.service").read_text()


def test_uninstall_keeps_data_and_purge_removes_it(mosquitto_binary: str, tmp_path: Path) -> None:
    root = tmp_path / "root"
    install(root, "--cpu", "--mosquitto")
    database = make_gallery(root / "var/lib/bearagent")
    user_dropin = root / "etc/systemd/system/bearagent.service.d/local.conf"
    user_dropin.write_text("[Service]\nNice=5\n")

    for _ in range(2):  # idempotent
        out = uninstall(root)
        assert not (root / "etc/systemd/system/bearagent.service").exists()
        assert not (root / "opt/bearagent").exists()
        assert individuals(database) == [("bf-032", "Otis")]
        assert (root / "etc/bearagent/config.toml").exists()
        assert "bearagent:" in (root / "etc/passwd").read_text()
        assert "kept" in out
    assert user_dropin.exists(), "the administrator's own drop-in was removed"

    # A reinstall picks up where it left off.
    install(root, "--cpu")
    assert individuals(database) == [("bf-032", "Otis")]

    for _ in range(2):
        uninstall(root, "--purge")
        for gone in ("var/lib/bearagent", "etc/bearagent", "etc/mosquitto/bearagent.passwd"):
            assert not (root / gone).exists(), gone
        assert "bearagent:" not in (root / "etc/passwd").read_text()


class InstalledBroker(Mosquitto):
    """Mosquitto run with the settings install.sh wrote below `root`, on free test ports:
    `plain_port` for the agent's loopback listener, `port` for the consumers' TLS one."""

    def __init__(self, binary: str, root: Path, folder: Path) -> None:
        self.root = root
        self.plain_port = free_port()
        super().__init__(binary, folder)

    def _config(self) -> str:
        conf = (self.root / "etc/mosquitto/conf.d/bearagent.conf").read_text()
        conf = conf.replace("listener 1883 127.0.0.1", f"listener {self.plain_port} 127.0.0.1")
        conf = conf.replace("listener 8883", f"listener {self.port} 127.0.0.1")
        conf = conf.replace("/etc/mosquitto/", f"{self.root}/etc/mosquitto/")
        # As root, mosquitto would drop to the user 'mosquitto', who cannot read tmp_path.
        return conf + f"log_dest file {self.log_path}\nuser {getpass.getuser()}\n"


def can_connect(port: int, password: str, ca: Path | None = None) -> bool:
    """Whether the broker on 127.0.0.1:`port` accepts 'bearagent' with `password`."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    if ca is not None:
        client.tls_set(ca_certs=str(ca))
    client.username_pw_set("bearagent", password)
    answers: queue.Queue[bool] = queue.Queue()
    client.on_connect = lambda _c, _u, _f, rc, _p: answers.put(not rc.is_failure)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        return answers.get(timeout=10)
    finally:
        client.disconnect()
        client.loop_stop()


def test_local_mosquitto_takes_the_agents_password(mosquitto_binary: str, tmp_path: Path) -> None:
    tls = make_tls_files(tmp_path / "tls")
    root = tmp_path / "root"
    args = ["--cpu", "--mosquitto", "--tls-cert", str(tls.server_cert)]
    args += ["--tls-key", str(tls.server_key), "--tls-ca", str(tls.ca_cert)]
    install(root, *args)
    secret = root / "etc/bearagent/mqtt-password"
    passwords = root / "etc/mosquitto/bearagent.passwd"
    password = secret.read_text()
    assert len(password) == 32 and password.isalnum() and mode(secret) == 0o600
    assert password not in passwords.read_text(), "the broker must store a hash"
    before = passwords.read_bytes()
    install(root, *args)
    assert secret.read_text() == password and passwords.read_bytes() == before

    broker = InstalledBroker(mosquitto_binary, root, tmp_path / "broker")
    broker.start()
    try:
        assert can_connect(broker.plain_port, password)
        assert not can_connect(broker.plain_port, "not-the-password")
        assert can_connect(broker.port, password, ca=tls.ca_cert)
        # A new password in the credential file reaches the broker on the next run,
        # and a consumer's account added by hand survives it.
        consumer = "dashboard:" + passwords.read_text().partition(":")[2]
        passwords.write_text(passwords.read_text() + consumer)
        secret.write_text("a-new-password")
        later = passwords.stat().st_mtime + 10
        os.utime(secret, (later, later))
        install(root, *args)
        broker.restart()
        assert can_connect(broker.plain_port, "a-new-password")
        assert not can_connect(broker.plain_port, password)
        assert consumer in passwords.read_text()
    finally:
        broker.stop()


def test_mosquitto_in_a_root_needs_mosquitto_passwd(tmp_path: Path) -> None:
    # $PATH with every tool of this machine but mosquitto_passwd.
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in Path("/usr/bin").iterdir():
        if tool.name != "mosquitto_passwd" and not (tools / tool.name).exists():
            (tools / tool.name).symlink_to(tool)
    root = tmp_path / "root"
    result = run(INSTALL, "--root", str(root), "--no-venv", "--cpu", "--mosquitto", path=str(tools))
    assert result.returncode == 1
    assert result.stderr.endswith(
        "install: error: --mosquitto needs mosquitto_passwd on this machine: apt-get install "
        "mosquitto, or add --apt\n"
    )


def test_real_venv_install(tmp_path: Path) -> None:
    """The package itself goes into DIR/opt/bearagent/venv, as a copy. Without its
    dependencies, to stay fast (pip still fetches the build backend from the index)."""
    root = tmp_path / "root"
    result = run(
        INSTALL,
        "--root",
        str(root),
        "--cpu",
        "--python",
        sys.executable,
        "--pip-arg",
        "--no-deps",
        "--pip-arg",
        "--quiet",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    venv = root / "opt/bearagent/venv"
    assert (venv / "bin/bearagent").exists()
    probe = subprocess.run(
        [str(venv / "bin/python"), "-c", "import bearagent.sdnotify as s; print(s.__file__)"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert probe.stdout.startswith(str(venv)), "installed as a copy, not linked to the tree"
    again = run(INSTALL, "--root", str(root), "--cpu", "--python", sys.executable)
    assert "already has bearagent" in again.stdout


def test_install_adds_the_review_page_unit_with_its_credential(tmp_path: Path) -> None:
    root = tmp_path / "root"
    out = install(root, "--cpu", "--watch", "/traps/north")
    units = root / "etc/systemd/system"
    review = units / "bearagent-review.service"
    assert review.read_text() == (REPO / "systemd/bearagent-review.service").read_text()
    # It shows the chips, so it sees the watch roots, read-only, like the agent.
    dropin = units / "bearagent-review.service.d/watch-roots.conf"
    assert dropin.read_text() == (units / "bearagent.service.d/watch-roots.conf").read_text()
    # An empty credential for LoadCredential=: the page refuses it until a password is set.
    assert (root / "etc/bearagent/review-password").read_text() == ""
    assert mode(root / "etc/bearagent/review-password") == 0o600
    assert "review page: set its password with" in out
    stage_systemd(root)
    assert verify_problems(root, "bearagent-review.service") == ""
    score, level = exposure(root, "bearagent-review.service")
    assert level in GOOD_LEVELS, f"bearagent-review: {score} {level}"
    # A password set by hand survives a reinstall.
    (root / "etc/bearagent/review-password").write_text("$argon2id$kept\n")
    install(root, "--cpu", "--upgrade")
    assert (root / "etc/bearagent/review-password").read_text() == "$argon2id$kept\n"


def test_uninstall_removes_the_review_page_unit_too(tmp_path: Path) -> None:
    root = tmp_path / "root"
    install(root, "--cpu", "--watch", "/traps/north")
    units = root / "etc/systemd/system"
    assert (units / "bearagent-review.service").exists()
    out = uninstall(root)
    assert "removed the units bearagent.service and bearagent-review.service" in out
    assert not (units / "bearagent-review.service").exists()
    assert not (units / "bearagent-review.service.d").exists()
