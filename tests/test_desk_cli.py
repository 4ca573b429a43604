"""``bear-station review`` (the desk: its password, its refusals, a real server process) and
every desk action as a ``bear-station`` command calling the same library function, with
the exact words of each answer and refusal."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner
from sqlalchemy import select

from bearstation.cli import main
from bearstation.fleet.gallery import get_fleet_individual
from bearstation.tables import desk_commands
from support.broker import free_port
from support.desk_world import HOLLY, OTIS, DeskWorld, build_desk_world
from support.review_app import PASSWORD, csrf_of

BEAR_STATION = str(Path(sys.executable).parent / "bear-station")
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[DeskWorld]:
    built = build_desk_world(f"sqlite:///{tmp_path / 'station.db'}", tmp_path)
    yield built
    built.engine.dispose()


def run(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), input=stdin, env=env)
    return result.exit_code, result.output


def test_passwd_writes_an_argon2_hash_readable_by_its_owner_only(tmp_path: Path) -> None:
    target = tmp_path / "etc" / "desk-password"
    code, out = run("review", "passwd", str(target), stdin="a long enough secret\n")
    assert (code, out.strip()) == (0, f"wrote the password hash to {target} (mode 0600)")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert PasswordHasher().verify(target.read_text().strip(), "a long enough secret")
    code, out = run("review", "passwd", str(target), stdin="short\n")
    assert (code, out.strip()) == (
        1, "Error: the password is too short: use at least 8 characters"
    )  # fmt: skip


def test_review_refuses_what_it_cannot_serve(world: DeskWorld, tmp_path: Path) -> None:
    db = world.db_url
    missing = tmp_path / "nope"
    code, out = run("review", "--db", db, "--password-file", str(missing))
    assert code == 1 and out.strip().endswith(
        f"Error: desk password file {missing} does not exist: write it with "
        f"`bear-station review passwd {missing}`"
    )
    plain = tmp_path / "plain"
    plain.write_text("hunter22\n")
    code, out = run("review", "--db", db, "--password-file", str(plain))
    assert out.strip().endswith(
        f"Error: desk password file {plain} holds no argon2 hash (an empty file, or a plain "
        f"password?): write it with `bear-station review passwd {plain}`"
    )
    code, out = run("review", "--db", db, env={"CREDENTIALS_DIRECTORY": ""})
    assert out.strip().endswith(
        "Error: no desk password: write one with `bear-station review passwd FILE`, then give "
        "--password-file FILE (or desk.password_file), or run under systemd with "
        "LoadCredential=desk-password:FILE"
    )
    code, out = run("review", "--db", db, "--listen", "0.0.0.0:8091")
    assert code == 1 and (
        "refusing to serve the review desk on 0.0.0.0:8091 without TLS: the password would "
        "cross the network in clear. Set desk.tls_cert and desk.tls_key, listen on 127.0.0.1 "
        "behind a TLS reverse proxy, or set desk.allow_plain_http = true on a trusted network"
    ) in " ".join(out.split())
    code, out = run("review", "--db", db, "--listen", "localhost")
    assert code == 1 and "'localhost' is not HOST:PORT, e.g. 127.0.0.1:8090" in out


def test_every_desk_action_is_a_command(world: DeskWorld) -> None:
    db = world.db_url
    code, out = run("encounters", "list", "--db", db)
    lines = out.splitlines()
    assert (code, lines[0]) == (0, "4 encounter(s) waiting; page 1 of 1")
    assert lines[-1].startswith(f"boxa {world.review} review kuhmo/cam02 2026-06-01 08:00 3 "
                                "chips; Holly 0.810, Otis 0.520")  # fmt: skip
    code, out = run("encounters", "assign", "boxa", world.review, "otis", "--by", "Anna",
                    "--db", db)  # fmt: skip
    assert code == 0, out
    with world.engine.connect() as conn:
        made = conn.execute(select(desk_commands)).one()
    assert (made.action, made.individual_id, made.by, made.client) == (
        "assign", OTIS, "Anna", "command line"
    )  # fmt: skip
    assert out.strip() == (
        f"assign encounter {world.review} of boxa (kuhmo/cam02) to Otis: waiting for boxa "
        f"(decision {made.command_id})"
    )
    code, out = run("encounters", "confirm", "boxa", world.review, "--db", db)
    assert (code, out.strip()) == (
        1, f"Error: encounter {world.review} of boxa has a decision waiting for boxa (assign "
        f"to Otis ({OTIS}), by Anna): wait until the box answers it",
    )  # fmt: skip
    code, out = run("encounters", "reject", "boxb", world.other, "--reason", "unusable",
                    "--chip", world.files(world.other)[0], "--db", db)  # fmt: skip
    assert code == 0 and out.startswith(
        f"reject 1 chip(s) of encounter {world.other} of boxb (oulanka/cam11) as unusable: "
        "waiting for boxb (decision "
    )
    code, out = run("encounters", "create", "boxa", world.unknown, "Holly", "--db", db)
    assert (code, out.strip()) == (
        1, f"Error: the name 'Holly' is already used by {HOLLY} in the fleet gallery: assign "
        "the encounter to it, or choose another name",
    )  # fmt: skip
    code, out = run("encounters", "undo", made.command_id, "--db", db)
    assert (code, out.strip()) == (
        1, f"Error: decision {made.command_id} is still waiting for boxa: undo it once the box "
        "has applied it",
    )  # fmt: skip
    code, out = run("encounters", "confirm", "boxc", "x", "--db", db)
    assert (code, out.strip()) == (
        1, "Error: the station has no encounter 'x' of box 'boxc': see the queue "
        "('bear-station encounters list')",
    )  # fmt: skip
    code, out = run("encounters", "decisions", "--db", db)
    assert code == 0 and [line.split(" ", 1)[0] for line in out.splitlines()][1] == (
        made.command_id
    )
    assert "waiting for boxa" in out and "waiting for boxb" in out


def test_individuals_name_create_and_merge(world: DeskWorld) -> None:
    db = world.db_url
    code, out = run("individuals", "name", world.provisional, "Bruno", "--db", db)
    assert (code, out.strip()) == (
        0, f"named {world.provisional} 'Bruno'; every box hears of it through the gallery feed"
    )  # fmt: skip
    code, out = run("individuals", "name", HOLLY, "bruno", "--db", db)
    assert (code, out.strip()) == (
        1, f"Error: the name 'bruno' is already {world.provisional}'s in the fleet gallery: "
        f"choose another name, or merge into {world.provisional} (bear-station individuals "
        f"merge ID {world.provisional})",
    )  # fmt: skip
    code, out = run("individuals", "create", "Ursula", "--db", db, "--set", 'station.id="hq"')
    assert (code, out.strip()) == (0, "created bear-hq-0001 'Ursula' in the fleet gallery")
    code, out = run("individuals", "merge", "Bruno", "Otis", "--db", db)
    assert code == 0 and out.startswith("merged Bruno into Otis (")
    code, out = run("individuals", "merge", "nobody", "Otis", "--db", db)
    assert (code, out.strip()) == (
        1, "Error: no individual 'nobody' in the fleet gallery: see 'bear-station "
        "individuals' (give an id such as bear-den-01-0004, or a name)",
    )  # fmt: skip
    with world.engine.connect() as conn:
        assert get_fleet_individual(conn, world.provisional).merged_into == OTIS
    code, out = run("individuals", "--db", db)  # the listing, as before
    assert code == 0 and "Holly" in out


def test_the_desk_serves_until_sigterm(world: DeskWorld, tmp_path: Path) -> None:
    secret = tmp_path / "desk-password"
    assert run("review", "passwd", str(secret), stdin=PASSWORD + "\n")[0] == 0
    port = free_port()
    media = f"media.root={world.config.media.root}"
    process = subprocess.Popen(
        [BEAR_STATION, "review", "--db", world.db_url, "--listen", f"127.0.0.1:{port}",
         "--password-file", str(secret), "--set", media],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "CREDENTIALS_DIRECTORY": ""},
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/login", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None, "no desk"
                time.sleep(0.2)
        sha = world.shas[world.review][0]
        with httpx.Client(base_url=base) as c:
            assert c.get(f"/media/{sha}").text == (
                "401 log in first: the review desk needs a session"
            )
            token = csrf_of(c.get("/login").text)
            c.post("/login", data={"csrf": token, "name": "Anna", "password": PASSWORD})
            assert c.get(f"/media/{sha}").content == world.media.open_bytes(sha)
            assert f"boxa-{world.review}" in c.get("/queue").text
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=30)
        assert process.returncode == 0, out
        assert f"review desk: http://127.0.0.1:{port}/ (Ctrl-C stops it)" in out
    finally:
        if process.poll() is None:
            process.kill()
