"""`bearagent review` and `bearagent review passwd`, `bearagent gallery thumbnails`, and
thumbnails travelling with `gallery export`: real commands on real files, with the exact
words of each refusal."""

from __future__ import annotations

import gzip
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner

from bearagent.cli import main
from bearagent.gallery import export_gallery, import_gallery, open_gallery
from bearagent.review.config import ReviewConfig
from bearagent.review.server import check_ready
from bearagent.review.web import create_app
from bearagent.store import open_database
from bearid_dev.demo.options import DemoOptions
from bearid_dev.demo.review import review_setup
from support.agent_checks import write_config
from support.broker import free_port
from support.review_app import csrf_of, served
from support.review_world import ReviewWorld, build, copy_database, settings

BEARAGENT = str(Path(sys.executable).parent / "bearagent")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> ReviewWorld:
    return build(tmp_path_factory.mktemp("review-cli"))


def run(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), input=stdin, env=env)
    return result.exit_code, result.output


def test_passwd_writes_an_argon2_hash_readable_by_its_owner_only(tmp_path: Path) -> None:
    target = tmp_path / "etc" / "review-password"
    code, out = run("review", "passwd", str(target), stdin="a long enough secret\n")
    assert code == 0, out
    assert out.strip() == f"wrote the password hash to {target} (mode 0600)"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    digest = target.read_text().strip()
    assert digest.startswith("$argon2id$") and "secret" not in digest
    assert PasswordHasher().verify(digest, "a long enough secret")
    code, out = run("review", "passwd", str(target), stdin="short\n")
    assert code == 1
    assert out.strip() == "Error: the password is too short: use at least 8 characters"
    assert PasswordHasher().verify(target.read_text().strip(), "a long enough secret")


def test_review_refuses_what_it_cannot_serve(built: ReviewWorld, tmp_path: Path) -> None:
    db = str(built.database)
    missing = tmp_path / "nope"
    code, out = run("review", "--db", db, "--password-file", str(missing))
    assert code == 1
    assert out.strip().endswith(
        f"Error: review password file {missing} does not exist: write it with "
        f"`bearagent review passwd {missing}`"
    )
    plain = tmp_path / "plain"
    plain.write_text("hunter22\n")
    code, out = run("review", "--db", db, "--password-file", str(plain))
    assert out.strip().endswith(
        f"Error: review password file {plain} holds no argon2 hash (an empty file, or a plain "
        f"password?): write it with `bearagent review passwd {plain}`"
    )
    env = {"CREDENTIALS_DIRECTORY": ""}
    code, out = run("review", "--db", db, env=env)
    assert out.strip().endswith(
        "Error: no review password: write one with `bearagent review passwd FILE`, then give "
        "--password-file FILE (or review.password_file), or run under systemd with "
        "LoadCredential=review-password:FILE"
    )
    code, out = run("review", "--db", db, "--listen", "0.0.0.0:8090")
    assert (
        code == 1
        and (
            "refusing to serve the review page on 0.0.0.0:8090 without TLS: the password would "
            "cross the network in clear"
        )
        in out
    )
    code, out = run("review", "--db", db, "--listen", "localhost")
    assert code == 1 and "'localhost' is not HOST:PORT, e.g. 127.0.0.1:8090" in out
    code, out = run("review", "--db", str(tmp_path / "none.db"), "--password-file", str(plain))
    assert out.strip().endswith(
        f"Error: the agent's database {tmp_path / 'none.db'} does not exist: run the agent (or "
        "enrol a gallery) first, or give --db / agent.database"
    )


def test_review_config_rules() -> None:
    assert ReviewConfig(listen="[::1]:8090").listen == "[::1]:8090"
    assert ReviewConfig(listen="0.0.0.0:8443", allow_plain_http=True).cookie_secure is False
    with pytest.raises(ValueError, match=r"review\.tls_cert and review\.tls_key go together"):
        ReviewConfig(tls_cert=Path("/x.pem"))


def test_the_service_runs_with_its_credential_and_stops_on_sigterm(
    built: ReviewWorld, tmp_path: Path
) -> None:
    """As systemd starts it: LoadCredential= puts the hash in $CREDENTIALS_DIRECTORY."""
    credentials = tmp_path / "credentials"
    assert run("review", "passwd", str(credentials / "review-password"),
               stdin="a long enough secret\n")[0] == 0  # fmt: skip
    database = copy_database(built.database, tmp_path / "copy.db")
    port = free_port()
    config = write_config(tmp_path / "config.toml", {
        **settings(built.world, database),
        "review": {"listen": f"127.0.0.1:{port}"},
    })  # fmt: skip
    env = {**os.environ, "CREDENTIALS_DIRECTORY": str(credentials)}
    log = tmp_path / "review.log"
    with log.open("wb") as err:
        proc = subprocess.Popen([BEARAGENT, "review", "--config", str(config)], env=env,
                                stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        assert response.status_code == 200 and 'name="password"' in response.text
        assert "server" not in response.headers
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    assert code == 0, log.read_text()
    assert f"review page: http://127.0.0.1:{port}/" in log.read_text()


def test_gallery_thumbnails_backfills_references_enrolled_without_them(
    built: ReviewWorld, tmp_path: Path
) -> None:
    database = copy_database(built.database, tmp_path / "copy.db")
    db = open_database(database)
    total = db.execute("SELECT count(*) FROM reference_embeddings").fetchone()[0]
    db.execute("DELETE FROM thumbnails WHERE kind = 'reference'")
    db.conn.commit()
    provisional = db.execute(  # made by the agent from its chips: no image file of its own
        "SELECT count(*) FROM reference_embeddings WHERE source NOT LIKE '/%'"
    ).fetchone()[0]
    assert provisional > 0
    # The chips' watch root is elsewhere now (moved, or another box): the sightings'
    # thumbnails stand in for the files.
    elsewhere = settings(built.world, database, watch={"roots": [str(tmp_path)]})
    cfg = write_config(tmp_path / "c.toml", elsewhere)
    code, out = run("gallery", "thumbnails", "--config", str(cfg))
    assert code == 0, out
    assert out.strip() == (
        f"made {total} thumbnail(s) ({total - provisional} from images, {provisional} from "
        "sightings); 0 already there; 0 reference(s) without a readable image"
    )
    code, out = run("gallery", "thumbnails", "--config", str(cfg))
    assert out.strip().endswith(f"{total} already there; 0 reference(s) without a readable image")


def test_gallery_export_carries_the_thumbnails(built: ReviewWorld, tmp_path: Path) -> None:
    source = open_database(copy_database(built.database, tmp_path / "copy.db"))
    exported = tmp_path / "gallery.json.gz"
    export_gallery(source, exported)
    doc = json.loads(gzip.decompress(exported.read_bytes()))
    assert doc["format_version"] == 2
    refs = [r for ind in doc["individuals"] for r in ind["references"]]
    assert refs and all(r["thumbnail"] for r in refs)
    target = open_gallery(tmp_path / "other.db")
    report = import_gallery(target, exported)
    assert report.references_added == len(refs)
    kept = target.execute("SELECT count(*) FROM thumbnails WHERE kind = 'reference'")
    assert kept.fetchone()[0] == len(refs)
    # A format-1 file (no thumbnails) still imports.
    doc["format_version"] = 1
    for r in refs:
        r.pop("thumbnail")
    old = tmp_path / "old.json"
    old.write_text(json.dumps(doc))
    assert import_gallery(open_gallery(tmp_path / "third.db"), old).references_added == len(refs)


def test_the_demo_serves_the_review_page_with_a_one_time_password(
    built: ReviewWorld, tmp_path: Path
) -> None:
    """`tools/demo.sh --review`'s last step, on a database the agent wrote."""
    workdir = tmp_path / "demo"
    copy_database(built.database, workdir / "state" / "bearagent.db")
    (workdir / "traps").mkdir()
    cfg, password = review_setup(DemoOptions(workdir=workdir, review=True), built.world.model)
    _, other = review_setup(DemoOptions(workdir=tmp_path / "d2"), built.world.model)
    assert password != other and len(password) >= 12
    assert stat.S_IMODE((workdir / "review-password").stat().st_mode) == 0o600
    app = create_app(cfg, check_ready(cfg))
    with served(app, cfg) as base, httpx.Client(base_url=base) as c:
        token = csrf_of(c.get("/login").text)
        answer = c.post("/login", data={"csrf": token, "name": "New", "password": password})
        assert answer.status_code == 303 and answer.headers["location"] == "/queue"
        assert "encounters waiting" in c.get("/queue").text
