"""``bearagent gallery ...`` through the installed console script, on real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from bearagent import gallery
from support.gallery_helpers import carded_model, enrol_tree

BIN = Path(sys.executable).parent / "bearagent"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN), "gallery", *args], capture_output=True, text=True)


def ok(*args: str) -> str:
    result = run(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_enrol_list_show_rename_remove(tmp_path: Path) -> None:
    db, model = str(tmp_path / "agent.db"), str(carded_model(tmp_path / "m"))
    root = enrol_tree(tmp_path / "chips", per_individual=2, names=("otis", "grazer", "holly"))
    (root / "holly" / "bad.jpg").write_bytes(b"")
    enrolled = run("enroll", str(root), "--db", db, "--model", model)
    assert enrolled.returncode == 0, enrolled.stderr
    assert "otis: 2 reference(s) added (new: bear-bearagent-0003)" in enrolled.stdout
    assert enrolled.stdout.endswith(
        "enrolled 6 image(s) of 3 individual(s); 0 already enrolled, 1 rejected\n"
    )
    assert "bad.jpg" in enrolled.stderr and "the file is empty (0 bytes)" in enrolled.stderr
    listed = ok("list", "--db", db).splitlines()
    assert listed[0].split() == ["ID", "NAME", "KIND", "REFS", "SIGHTINGS", "LAST", "SEEN"]
    assert listed[1].split() == ["bear-bearagent-0001", "grazer", "known", "2", "0", "-"]
    assert ok("rename", "otis", "Otis the Elder", "--db", db) == (
        "bear-bearagent-0003 is now called Otis the Elder\n"
    )
    shown = ok("show", "bear-bearagent-0003", "--db", db)
    assert "name: Otis the Elder\n" in shown and "references: 2\n" in shown
    assert ok("remove", "holly", "--yes", "--db", db).startswith(
        "removed bear-bearagent-0002 (holly)"
    )
    people = json.loads(ok("list", "--json", "--db", db))
    assert [p["id"] for p in people] == ["bear-bearagent-0001", "bear-bearagent-0003"]


def test_errors_are_one_line(tmp_path: Path) -> None:
    db = tmp_path / "agent.db"
    missing = run("list", "--db", str(db))
    assert missing.returncode == 1
    assert missing.stderr == (
        f"Error: gallery database {db} does not exist: enrol individuals first with "
        f"`bearagent gallery enroll ROOT --db {db}`\n"
    )
    gallery.create_known(gallery.open_gallery(db), "Otis")
    unknown = run("show", "Bruno", "--db", str(db))
    assert unknown.returncode == 1 and unknown.stderr == (
        f"Error: no individual 'Bruno' in gallery {db}: see `bearagent gallery list`\n"
    )
    no_card = run("enroll", str(tmp_path), "--db", str(db), "--model", str(tmp_path / "x.onnx"))
    assert no_card.returncode == 1 and no_card.stderr.startswith("Error: model file ")
    assert "Traceback" not in no_card.stderr


def test_promote_export_import_round_trip(tmp_path: Path) -> None:
    db, other = tmp_path / "agent.db", tmp_path / "other.db"
    conn = gallery.open_gallery(db)
    rng = np.random.default_rng(0)
    refs = rng.normal(size=(3, 8)).astype(np.float32)
    refs /= np.linalg.norm(refs, axis=1, keepdims=True)
    sha = "e" * 64
    first = gallery.create_provisional(conn, refs[:2], sha, ["/t/a.jpg", "/t/b.jpg"])
    second = gallery.create_provisional(conn, refs[2:], sha, "/t/c.jpg")
    assert ok("promote", first, "--name", "Bruno", "--db", str(db)) == (
        "unknown-0001 is now bear-bearagent-0001 (Bruno): 2 reference(s)\n"
    )
    # A person's decision at the command line is audited and published like the page's.
    ((channel, payload),) = conn.execute("SELECT channel, payload FROM outbox").fetchall()
    correction = json.loads(payload)
    assert (channel, correction["action"], correction["after"]["name"]) == (
        "correction",
        "rename",
        "Bruno",
    )
    assert correction["by"].endswith("(command line)")
    out = tmp_path / "gallery.json.gz"
    assert ok("export", str(out), "--db", str(db)) == (
        f"exported 2 individual(s), 3 reference(s) to {out}\n"
    )
    assert ok("import", str(out), "--db", str(other)).endswith(
        "imported 3 reference(s); 0 already present\n"
    )
    assert ok("import", str(out), "--db", str(other)).endswith(
        "imported 0 reference(s); 3 already present\n"
    )  # importing the same file again adds nothing
    copy = gallery.open_gallery(other)
    assert [(i.id, i.name) for i in gallery.list_individuals(copy)] == [
        ("bear-bearagent-0001", "Bruno"), (second, None),
    ]  # fmt: skip
    original = gallery.load_references(conn)
    imported = gallery.load_references(copy)
    np.testing.assert_array_equal(imported.matrix[:3], original.matrix)
    assert gallery.gallery_models(copy) == [sha]
    (tmp_path / "bad.json").write_text('{"format": "bearid-gallery", "format_version": 9}')
    bad = run("import", str(tmp_path / "bad.json"), "--db", str(other))
    assert bad.returncode == 1 and bad.stderr.startswith(
        f"Error: {tmp_path / 'bad.json'} is not a bearid gallery export (format_version:"
    )


def test_reembed_with_a_new_model(tmp_path: Path) -> None:
    db = str(tmp_path / "agent.db")
    root = enrol_tree(tmp_path / "chips", per_individual=2)
    ok("enroll", str(root), "--db", db, "--model", str(carded_model(tmp_path / "m1")))
    new = str(carded_model(tmp_path / "m2", seed=3, name="tiny-v2"))
    refused = run("enroll", str(root), "--db", db, "--model", new)
    assert refused.returncode == 1
    assert refused.stderr.startswith("Error: gallery ") and "gallery reembed" in refused.stderr
    assert ok("reembed", "--db", db, "--model", new) == (
        "re-embedded 4 reference(s); 0 already up to date; 0 dropped\n"
    )
    assert ok("enroll", str(root), "--db", db, "--model", new).endswith(
        "4 already enrolled, 0 rejected\n"
    )
