"""Getting events to the station: deploy/station/install.sh (and uninstall.sh) in throwaway
roots, deploy/install.sh --bridge on the box, and a real bridge between the two Mosquitto
configurations they write: a box's events reach the station's database over TLS, wait in
the box's queue while the station's broker is down, and a box cannot write another box's
topics."""

from __future__ import annotations

import getpass
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bearstation.config import StationConfig
from bearstation.tables import events
from support.broker import Credentials, Mosquitto, free_port
from support.certs import make_tls_files
from support.station_payloads import T0, FakeBox, publish
from support.station_systemd import GOOD_LEVELS, exposure, stage, verify_problems
from support.station_world import count, running_station, wait_for_events

REPO = Path(__file__).resolve().parent.parent
STATION_INSTALL = REPO / "deploy" / "station" / "install.sh"
STATION_UNINSTALL = REPO / "deploy" / "station" / "uninstall.sh"
BOX_INSTALL = REPO / "deploy" / "install.sh"
BEAR_STATION = REPO / ".venv" / "bin" / "bear-station"


def run(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(script), *args], capture_output=True, text=True, timeout=240, check=False
    )


def ok(script: Path, *args: str) -> str:
    result = run(script, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(root)): (p.stat().st_mode, b"" if p.is_dir() else p.read_bytes())
        for p in sorted(root.rglob("*"))
    }


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o7777


def test_help_and_refusals() -> None:
    for script in (STATION_INSTALL, STATION_UNINSTALL):
        assert "--root DIR" in ok(script, "--help")
    assert run(STATION_INSTALL, "--bogus").stderr == (
        "station-install: error: unknown option '--bogus' (see --help)\n"
    )
    assert run(STATION_INSTALL, "--root", "/tmp/x", "--mosquitto").stderr == (
        "station-install: error: --mosquitto needs --tls-cert and --tls-key: the boxes reach "
        "the station over TLS\n"
    )
    assert run(STATION_INSTALL, "--root", "/tmp/x", "--add-box", "den-01").stderr == (
        "station-install: error: --add-box needs --box-password-file (a copy of the box's "
        "/etc/bearagent/bridge-password)\n"
    )
    assert run(BOX_INSTALL, "--root", "/tmp/x", "--bridge", "station:8883").stderr == (
        "install: error: --bridge configures the box's local Mosquitto: add --mosquitto\n"
    )
    bad = run(BOX_INSTALL, "--root", "/tmp/x", "--mosquitto", "--bridge", "station")
    assert bad.stderr == (
        "install: error: --bridge 'station' is not HOST:PORT, e.g. station.example.org:8883\n"
    )


def test_station_install_twice_changes_nothing_and_the_unit_scores_ok(tmp_path: Path) -> None:
    root = tmp_path / "root"
    db = "postgresql://bear-station@db.example/bears"
    args = ["--root", str(root), "--no-venv", "--db", db]
    args += ["--broker", "mqtts://bear-station@broker.example:8883"]
    ok(STATION_INSTALL, *args)
    first = snapshot(root)
    assert "keeping" in ok(STATION_INSTALL, *args)
    assert snapshot(root) == first
    config = root / "etc/bear-station/config.toml"
    text = config.read_text()
    assert f"database = '{db}'" in text
    assert "url = 'mqtts://bear-station@broker.example:8883'\npassword_file = " in text
    assert mode(config) == 0o640 and mode(root / "etc/bear-station/mqtt-password") == 0o600
    assert (root / "etc/passwd").read_text().startswith("bear-station:x:")
    unit = root / "etc/systemd/system/bear-station.service"
    assert unit.read_text() == (REPO / "systemd/bear-station.service").read_text()
    if BEAR_STATION.exists():
        check = subprocess.run(
            [str(BEAR_STATION), "check-config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert check.returncode == 0, check.stdout + check.stderr
    stage(root)
    assert verify_problems(root) == ""
    assert exposure(root)[1] in GOOD_LEVELS


def test_uninstall_keeps_the_database_and_purge_removes_it(tmp_path: Path) -> None:
    root = tmp_path / "root"
    tls = make_tls_files(tmp_path / "tls")
    args = ["--root", str(root), "--no-venv", "--mosquitto"]
    ok(STATION_INSTALL, *args, "--tls-cert", str(tls.server_cert), "--tls-key", str(tls.server_key))
    database = root / "var/lib/bear-station/bearstation.db"
    database.write_bytes(b"events")
    for _ in range(2):
        ok(STATION_UNINSTALL, "--root", str(root))
        assert database.exists() and (root / "etc/bear-station/config.toml").exists()
        assert not (root / "etc/systemd/system/bear-station.service").exists()
    for _ in range(2):
        ok(STATION_UNINSTALL, "--root", str(root), "--purge")
        assert not database.exists() and not (root / "etc/mosquitto/bear-station.acl").exists()
        assert "bear-station:" not in (root / "etc/passwd").read_text()


class FromInstaller(Mosquitto):
    """Mosquitto with a configuration an installer wrote below `root`; its listeners moved
    to free loopback ports (`listeners`: the line as written -> the port to use)."""

    def __init__(self, binary: str, conf: Path, root: Path, folder: Path, **ports: int) -> None:
        self.conf = conf
        self.root = root
        self.ports = ports
        super().__init__(binary, folder)

    def _config(self) -> str:
        text = self.conf.read_text()
        text = text.replace("listener 1883 127.0.0.1", f"listener {self.port} 127.0.0.1")
        if "tls" in self.ports:
            text = text.replace("listener 8883\n", f"listener {self.ports['tls']} 127.0.0.1\n")
        text = text.replace("/etc/mosquitto/", f"{self.root}/etc/mosquitto/")
        return (
            f"persistence true\npersistence_location {self.folder}/\n"
            f"log_dest file {self.log_path}\nlog_type all\nuser {getpass.getuser()}\n" + text
        )


@pytest.fixture
def fleet(
    mosquitto_binary: str, tmp_path: Path
) -> Iterator[tuple[FromInstaller, FromInstaller, Path, Path]]:
    """The station's broker and one box's broker (agent id den-07), bridged, both running."""
    tls = make_tls_files(tmp_path / "tls")
    station_root, box_root = tmp_path / "station", tmp_path / "box"
    args = ["--root", str(station_root), "--no-venv", "--mosquitto"]
    ok(STATION_INSTALL, *args, "--tls-cert", str(tls.server_cert), "--tls-key", str(tls.server_key))
    tls_port = free_port()
    box_args = ["--root", str(box_root), "--no-venv", "--cpu", "--agent-id", "den-07"]
    box_args += [
        "--mosquitto",
        "--bridge",
        f"127.0.0.1:{tls_port}",
        "--bridge-ca",
        str(tls.ca_cert),
    ]
    out = ok(BOX_INSTALL, *box_args)
    assert "deploy/station/install.sh --add-box den-07 --box-password-file" in out
    bridge_password = box_root / "etc/bearagent/bridge-password"
    ok(
        STATION_INSTALL,
        "--root",
        str(station_root),
        "--no-venv",
        "--add-box",
        "den-07",
        "--box-password-file",
        str(bridge_password),
    )
    station = FromInstaller(
        mosquitto_binary,
        station_root / "etc/mosquitto/conf.d/bear-station.conf",
        station_root,
        tmp_path / "station-broker",
        tls=tls_port,
    )
    box = FromInstaller(
        mosquitto_binary,
        box_root / "etc/mosquitto/conf.d/bearagent.conf",
        box_root,
        tmp_path / "box-broker",
    )
    station.start()
    box.start()
    yield station, box, station_root, box_root
    box.stop()
    station.stop()


def test_the_box_bridge_config(fleet: tuple[FromInstaller, FromInstaller, Path, Path]) -> None:
    _, _, _, box_root = fleet
    conf = box_root / "etc/mosquitto/conf.d/bearagent.conf"
    lines = conf.read_text().splitlines()
    assert mode(conf) == 0o640, "it holds the bridge's password"
    for expected in (
        "connection bearid-station",
        "remote_clientid bearid-bridge-den-07",
        "remote_username den-07",
        "topic bearid/den-07/# out 1",
        "topic bearid-station/den-07/# in 1",
        "cleansession false",
        "local_cleansession false",
        "max_queued_messages 100000",
        "bridge_cafile /etc/mosquitto/certs/bearagent/station-ca.crt",
        "bridge_insecure false",
    ):
        assert expected in lines
    acl = (fleet[2] / "etc/mosquitto/bear-station.acl").read_text()
    assert "user den-07\ntopic write bearid/den-07/#\ntopic read bearid-station/den-07/#\n" in acl
    assert "user bear-station\ntopic read bearid/#\ntopic write bearid-station/#\n" in acl


def test_events_cross_the_bridge_and_wait_out_a_station_broker_outage(
    fleet: tuple[FromInstaller, FromInstaller, Path, Path], tmp_path: Path
) -> None:
    station_broker, box_broker, station_root, box_root = fleet
    agent = Credentials("bearagent", (box_root / "etc/bearagent/mqtt-password").read_text())
    db = f"sqlite:///{tmp_path / 'station.db'}"
    config = StationConfig.model_validate(
        {
            "station": {"id": "hq", "database": db},
            "brokers": [
                {
                    "url": f"mqtt://bear-station@127.0.0.1:{station_broker.port}",
                    "password_file": str(station_root / "etc/bear-station/mqtt-password"),
                    "allow_plaintext_credentials": True,
                }
            ],
            "intake": {"reconnect_min_s": 0.2, "reconnect_max_s": 1.0},
        }
    )
    box = FakeBox("den-07")
    with running_station(config):
        publish(box_broker, box.encounter("cam01", T0, individual="bear-0001"), agent)
        engine = wait_for_events(db, 2)
        # The station's broker goes down; the box keeps publishing into its bridge queue,
        # and its own broker restarts meanwhile (the queue is on disk).
        station_broker.stop()
        publish(box_broker, box.encounter("cam02", T0, individual="bear-0002"), agent)
        box_broker.restart()
        publish(box_broker, box.encounter("cam03", T0, individual="bear-0003"), agent)
        station_broker.start()
        wait_for_events(db, 6, timeout=60)
        # A box cannot speak for another one: the ACL drops it at the station's broker.
        intruder = Credentials("den-07", (box_root / "etc/bearagent/bridge-password").read_text())
        other = FakeBox("den-08").encounter("cam01", T0, individual="bear-0001")
        publish(station_broker, other, intruder)
        publish(box_broker, box.encounter("cam04", T0, individual="bear-0004"), agent)
        wait_for_events(db, 8)
    assert count(engine, events, events.c.agent_id == "den-08") == 0
    assert count(engine, events) == 8
