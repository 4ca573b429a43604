"""`bear-station`: --help everywhere, one-line errors for the common mistakes, and every
command on a real database; `run` as a real process that a SIGKILL cannot make lose or
double an event."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from bearagent.decisions import Outcome
from bearstation.cli import main
from bearstation.migrations import head_revision
from bearstation.tables import events
from support.broker import Mosquitto
from support.station_payloads import T0, FakeBox, publish, wait_until
from support.station_world import count, fresh_engine, ingest, wait_for_events

BEAR_STATION = [sys.executable, "-m", "bearstation"]


def cli(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


def test_every_command_has_help() -> None:
    every = commands(main)
    assert ("export", "camtrap-dp") in every and ("run",) in every and ("link",) in every
    for path in every:
        result = cli(*path, "--help")
        assert result.exit_code == 0, (path, result.output)
        assert "Usage: " in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["run"],
            "Error: no broker to subscribe to: give --broker URL (e.g. mqtt://localhost:1883) "
            "or [[brokers]] in the config\n",
        ),
        (
            ["run", "--broker", "mqtts://station:hunter2@broker.example:8883"],
            "Error: broker URL 'mqtts://station:***@broker.example:8883' holds a password: put "
            "it in a file (--password-file, or brokers.password_file) instead, where ps and "
            "logs cannot show it\n",
        ),
        (
            ["run", "--broker", "http://broker.example"],
            "Error: broker URL 'http://broker.example': the scheme must be mqtt:// or mqtts:// "
            "(TLS), e.g. mqtts://station@broker.example:8883\n",
        ),
        (
            ["status", "--db", "mysql://station@db/bears"],
            "Error: database URL 'mysql://station@db/bears': the station runs on SQLite or "
            "PostgreSQL, not mysql (e.g. sqlite:///bearstation.db or "
            "postgresql+psycopg://station@dbhost/bearid)\n",
        ),
        (
            ["status", "--set", "station.databse=sqlite:///x.db"],
            "Error: configuration (defaults): station.databse = 'sqlite:///x.db': unknown key "
            "(check its spelling and section)\n",
        ),
        (
            ["locate", "den-01/kuhmo/cam01"],
            "Error: locate den-01/kuhmo/cam01: give both --lat and --lon\n",
        ),
    ],
)
def test_common_mistakes_are_one_line_errors(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert result.output == message


def test_credentials_without_tls_or_a_password_file_are_refused(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 's.db'}"
    plain = CliRunner().invoke(main, ["run", "--db", db, "--broker", "mqtt://station@host:1883"])
    assert plain.exit_code == 1
    assert "refusing to send the username and password to host:1883 over plain TCP" in plain.output
    result = CliRunner().invoke(
        main, ["run", "--db", db, "--broker", "mqtts://station@host:8883"], env={}
    )
    assert result.output == (
        "Error: broker host:8883 wants user 'station' but no password file is given: pass "
        "--password-file FILE (or set password_file), or run under systemd with "
        "LoadCredential=mqtt-password:/path/to/file\n"
    )


def test_migrate_and_the_everyday_commands_on_a_real_database(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'station.db'}"
    head = head_revision()
    assert cli("migrate", "--db", db).output.endswith(f"revision (empty) -> {head}\n")
    assert cli("migrate", "--db", db).output.endswith(f"already at revision {head}\n")
    north, south = FakeBox("den-01"), FakeBox("den-02")
    ingest(
        fresh_engine(db),
        [
            *north.encounter("cam01", T0, individual=None, outcome=Outcome.UNKNOWN),
            *south.encounter("cam01", T0, individual=None, outcome=Outcome.UNKNOWN),
        ],
    )
    assert cli("cameras", "--db", db).output == (
        "den-01/kuhmo/cam01: 2026-06-01 to 2026-06-01; no coordinates\n"
        "den-02/kuhmo/cam01: 2026-06-01 to 2026-06-01; no coordinates\n"
    )
    places = tmp_path / "places.csv"
    places.write_text(
        "deploymentID,latitude,longitude,locationName\n"
        "den-01/kuhmo/cam01,64.1,29.5,Ridge\nden-02/kuhmo/cam01,64.0,29.9,\n"
    )
    assert cli("locate", "--csv", str(places), "--db", db).output == (
        f"located 2 cameras from {places}\n"
    )
    linked = cli("link", "unknown-den-01-0001", "unknown-den-02-0001", "--by", "anna", "--db", db)
    assert linked.output == (
        "linked den-01:unknown-den-01-0001 and den-02:unknown-den-02-0001 (link #1, by anna)\n"
    )
    assert cli("individuals", "--db", db).output == (
        "unknown-den-01-0001: 2 encounters (den-01:unknown-den-01-0001, "
        "den-02:unknown-den-02-0001)\n"
    )
    assert cli("links", "--db", db).output.startswith(
        "#1 den-01:unknown-den-01-0001 = den-02:unknown-den-02-0001: "
    )
    status = cli("status", "--db", db).output
    assert "boxes: 2\n" in status and "events: sighting 4, unknown 2\n" in status
    exported = cli("export", "camtrap-dp", str(tmp_path / "pkg"), "--db", db)
    assert exported.output == (
        f"wrote {tmp_path / 'pkg'}: 2 deployments, 6 media, 2 observations\n"
    )
    history = cli(
        "export", "capture-history", str(tmp_path / "h.csv"), "--occasion", "week", "--db", db
    )
    assert history.output == f"wrote {tmp_path / 'h.csv'}: 1 individuals x 1 occasions\n"
    assert (tmp_path / "h.csv").read_text() == "individual,2026-W23\nunknown-den-01-0001,1\n"
    assert "summary.md" in cli("report", str(tmp_path / "report"), "--db", db).output
    assert cli("unlink", "unknown-den-01-0001", "unknown-den-02-0001", "--db", db).exit_code == 0
    assert cli("quarantine", "--db", db).output == "the quarantine is empty\n"


def test_check_config_reads_a_real_file(tmp_path: Path) -> None:
    config = tmp_path / "station.toml"
    config.write_text(
        '[station]\nid = "hq"\ndatabase = "postgresql://station@db.example/bears"\n\n'
        '[[brokers]]\nurl = "mqtts://station@broker.example:8883"\n'
        'password_file = "mqtt-password"\n'
        '[brokers.tls]\nca_file = "/etc/bear-station/ca.crt"\n\n'
        '[export]\nproject_title = "Kuhmo"\n'
        '[[export.contributors]]\ntitle = "Anna"\nrole = "principalInvestigator"\n'
    )
    assert cli("check-config", str(config)).output == (
        f"{config}: OK (database postgresql+psycopg://station@db.example/bears, 1 broker(s))\n"
    )
    config.write_text('[[brokers]]\nurl = "mqtts://a@b:8883"\ntls = { ca_fil = "x" }\n')
    result = CliRunner().invoke(main, ["check-config", str(config)])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: configuration {config}: brokers.0.tls.ca_fil = 'x': unknown key (check its "
        "spelling and section)\n"
    )


def test_sigkill_of_the_station_loses_no_event_and_stores_none_twice(
    broker: Mosquitto, station_db: str, tmp_path: Path
) -> None:
    box = FakeBox("den-01")
    messages = [
        m for i in range(150) for m in box.encounter("cam01", T0, individual=f"bear-{i:04d}")
    ]
    args = [*BEAR_STATION, "run", "--broker", f"mqtt://{broker.host}:{broker.port}"]
    args += ["--db", station_db, "--set", "intake.batch_max=20"]
    log = (tmp_path / "station.log").open("wb")
    first = subprocess.Popen(args, stdout=log, stderr=log)
    try:
        engine = fresh_engine(station_db)
        sender = threading.Thread(target=publish, args=(broker, messages))
        wait_until(lambda: b"connected to broker" in (tmp_path / "station.log").read_bytes())
        sender.start()
        wait_until(lambda: count(engine, events) >= 60, what="the first events")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        stored_at_kill = count(engine, events)
        sender.join(60)
    finally:
        if first.poll() is None:
            first.kill()
    assert stored_at_kill < len(messages)
    second = subprocess.Popen(args, stdout=log, stderr=log)
    try:
        wait_for_events(station_db, len(messages), timeout=60)
        time.sleep(1.0)  # anything still arriving would be a duplicate: none may be stored
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0
    assert count(engine, events) == len(messages)
