"""The station's media store on a real folder and a real database (SQLite and PostgreSQL):
a chip sent twice is stored once, bad bytes are refused with messages that say what and
why and leave nothing behind, no name leads outside the folder, and migration 0002 adds
the tables to a database holding data."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from alembic import command
from click.testing import CliRunner
from sqlalchemy import Engine, func, select

from bearstation.cli import main
from bearstation.database import open_engine
from bearstation.media.config import MediaConfig, media_root
from bearstation.media.errors import (
    ChipUploadInvalid,
    MediaConflict,
    MediaHashMismatch,
    MediaNameInvalid,
    MediaNotFound,
    MediaTooLarge,
    MediaTypeRefused,
)
from bearstation.media.records import chip_sha256, embedding_of, store_chip
from bearstation.media.store import MediaStore, MediaUsage
from bearstation.migrations import alembic_config, current_revision, upgrade
from bearstation.tables import chip_media, embeddings, media
from support.station_chips import jpeg_chip, upload
from support.station_payloads import MODEL
from support.station_world import count, fresh_engine

WHEN = datetime(2026, 6, 1, 6, 0, 0, tzinfo=timezone(timedelta(hours=3)))
FILE = "kuhmo/cam01/cam01_20260601-060000_000010.jpg"


@pytest.fixture
def engine(station_db: str) -> Engine:
    return fresh_engine(station_db)


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_a_chip_sent_twice_is_stored_once(engine: Engine, tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")
    data = jpeg_chip(1)
    sha = hashlib.sha256(data).hexdigest()
    chip = upload("den-01", FILE, data, WHEN, encounter_id="den-01-enc-00001")
    with engine.begin() as conn:
        assert store_chip(conn, store, chip) is True
    with engine.begin() as conn:
        assert store_chip(conn, store, chip) is False  # a resend: nothing changes
    assert stored_files(store.root) == [store.root / sha[:2] / sha[2:4] / f"{sha}.jpg"]
    assert store.open_bytes(sha) == data
    assert store.usage() == MediaUsage(1, len(data))
    assert (count(engine, media), count(engine, chip_media), count(engine, embeddings)) == (1, 1, 1)
    with engine.connect() as conn:
        row = conn.execute(select(chip_media)).one()
        assert chip_sha256(conn, "den-01", FILE) == sha
        vector = embedding_of(conn, sha, MODEL.sha256)
    assert (row.site, row.camera, row.encounter_id) == ("kuhmo", "cam01", "den-01-enc-00001")
    assert row.captured_at == WHEN and row.captured_offset_min == 180
    assert vector is not None and vector.dtype == np.float32
    assert np.array_equal(vector, chip.embedding)  # type: ignore[arg-type]

    # The same bytes from another box: a second chip row, still one file and one media row.
    with engine.begin() as conn:
        assert store_chip(conn, store, upload("den-02", "ridge/cam07/x.jpg", data, WHEN)) is False
    assert (count(engine, media), count(engine, chip_media)) == (1, 2)
    assert store.usage() == MediaUsage(1, len(data))


def test_a_hash_mismatch_is_refused_with_the_reason_and_stores_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    store = MediaStore(tmp_path / "media")
    data = jpeg_chip(2)
    claimed = hashlib.sha256(data[:-10]).hexdigest()  # the hash of the whole, cut short on the way
    with pytest.raises(MediaHashMismatch) as e, engine.begin() as conn:
        store_chip(conn, store, upload("den-01", FILE, data, WHEN, sha256=claimed))
    assert str(e.value) == (
        f"chip {claimed}: its {len(data)} bytes hash to {hashlib.sha256(data).hexdigest()}, "
        "not to the SHA-256 sent with them (damaged or cut short on the way); nothing was stored"
    )
    assert stored_files(store.root) == []
    assert (count(engine, media), count(engine, chip_media)) == (0, 0)


def test_bytes_too_large_or_of_the_wrong_type_are_refused(tmp_path: Path) -> None:
    data = jpeg_chip(3)
    sha = hashlib.sha256(data).hexdigest()
    small = MediaStore(tmp_path / "media", max_chip_bytes=100)
    with pytest.raises(MediaTooLarge) as e:
        small.put(data, sha)
    assert str(e.value) == (
        f"chip {sha}: {len(data)} bytes is more than media.max_chip_bytes (100); nothing was "
        "stored (raise the limit to keep such chips)"
    )
    html = b"<html><script>alert(1)</script></html>"
    with pytest.raises(MediaTypeRefused) as refused:
        MediaStore(tmp_path / "media").put(html, hashlib.sha256(html).hexdigest())
    assert str(refused.value) == (
        f"chip {hashlib.sha256(html).hexdigest()}: its bytes are no image type the store knows; "
        "the store keeps image/bmp, image/jpeg, image/png, image/tiff, image/webp "
        "(media.content_types)"
    )
    png_only = MediaStore(tmp_path / "media", content_types=["image/png"])
    with pytest.raises(
        MediaTypeRefused, match="its bytes are image/jpeg; the store keeps image/png"
    ):
        png_only.put(data, sha)
    assert stored_files(tmp_path / "media") == []


def test_a_declared_type_must_match_the_bytes(engine: Engine, tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")
    data = jpeg_chip(4)
    with pytest.raises(MediaTypeRefused) as e, engine.begin() as conn:
        store_chip(conn, store, upload("den-01", FILE, data, WHEN, content_type="image/png"))
    assert str(e.value) == (
        f"chip den-01:{FILE}: sent as image/png but its bytes are image/jpeg; nothing was stored"
    )
    gif = pytest.raises(MediaTypeRefused, match="content type 'image/gif' is not kept")
    with gif, engine.begin() as conn:
        store_chip(conn, store, upload("den-01", FILE, data, WHEN, content_type="image/gif"))
    assert stored_files(store.root) == []


def test_no_name_leads_outside_the_media_folder(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")
    secret = tmp_path / "secret.txt"
    secret.write_text("not a chip")
    for name in [
        "../secret.txt",
        "../../etc/passwd",
        "/etc/passwd",
        "a" * 63,
        "a" * 64 + "/../x",
        "a" * 64 + "\n",
        "g" * 64,
        "",
    ]:
        with pytest.raises(MediaNameInvalid) as e:
            store.path_of(name)
        assert str(e.value) == (
            f"{name!r} is not a SHA-256 (64 hex digits): media are named by their hash only"
        )
        with pytest.raises(MediaNameInvalid):
            store.open_bytes(name)
        with pytest.raises(MediaNameInvalid):
            store.put(b"x", name)
    # A symbolic link planted where a chip belongs is not followed.
    sha = "ab" * 32
    planted = store.root / "ab" / "ab" / f"{sha}.jpg"
    planted.parent.mkdir(parents=True)
    planted.symlink_to(secret)
    with pytest.raises(MediaNotFound, match=r"cannot read stored chip .*symbolic links"):
        store.open_bytes(sha)
    with pytest.raises(MediaNotFound) as missing:
        store.path_of("cd" * 32)
    assert str(missing.value) == f"no stored chip {'cd' * 32} in the media folder {store.root}"
    assert store.usage() == MediaUsage(0, 0)  # the link is not a stored file


def test_the_same_box_chip_with_other_bytes_is_a_conflict_and_keeps_the_first(
    engine: Engine, tmp_path: Path
) -> None:
    store = MediaStore(tmp_path / "media")
    first, second = jpeg_chip(5), jpeg_chip(6)
    with engine.begin() as conn:
        store_chip(conn, store, upload("den-01", FILE, first, WHEN))
    with pytest.raises(MediaConflict) as e, engine.begin() as conn:
        store_chip(conn, store, upload("den-01", FILE, second, WHEN))
    assert str(e.value) == (
        f"chip den-01:{FILE} is stored with bytes {hashlib.sha256(first).hexdigest()} already; "
        f"these are {hashlib.sha256(second).hexdigest()}: a box sends one file once (was it "
        "replaced on the box?)"
    )
    with engine.connect() as conn:
        assert chip_sha256(conn, "den-01", FILE) == hashlib.sha256(first).hexdigest()
        assert conn.execute(select(func.count()).select_from(media)).scalar_one() == 1


def test_writes_are_atomic_and_a_damaged_file_is_rewritten(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")
    data = jpeg_chip(7)
    sha = hashlib.sha256(data).hexdigest()
    assert store.put(data, sha.upper()) is True  # hex in either case names the same file
    path = store.path_of(sha)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    (path.parent / f".{path.name}.dead.part").write_bytes(data[:5])  # a crash mid-write
    assert store.usage() == MediaUsage(1, len(data))
    path.write_bytes(data[:20])  # cut short behind the store's back
    assert store.put(data, sha) is True
    assert store.open_bytes(sha) == data


def test_invalid_uploads_say_what_does_not_fit() -> None:
    data = jpeg_chip(8)
    with pytest.raises(ChipUploadInvalid) as e:
        upload("den-01", FILE, data, datetime(2026, 6, 1, 6, 0))
    assert str(e.value) == f"chip den-01:{FILE}: captured_at 2026-06-01T06:00:00 has no UTC offset"
    chip = upload("den-01", FILE, data, WHEN)
    with pytest.raises(ChipUploadInvalid, match=r"one non-empty vector, not shape \(2, 4\)"):
        type(chip)(**{**chip.__dict__, "embedding": np.zeros((2, 4), np.float32)})
    with pytest.raises(ChipUploadInvalid, match="both or neither"):
        type(chip)(**{**chip.__dict__, "model_sha256": None})
    with pytest.raises(ChipUploadInvalid, match="NaN or infinity"):
        type(chip)(**{**chip.__dict__, "embedding": np.array([np.nan], np.float32)})


def test_the_default_media_folder_is_beside_the_database() -> None:
    default = MediaConfig()
    assert media_root(default, "sqlite:////srv/bears/station.db") == Path(
        "/srv/bears/station-media"
    )
    assert media_root(default, "sqlite:///bearstation.db") == Path("bearstation-media")
    assert media_root(default, "postgresql://station@db/bears") == Path("bearstation-media")
    assert media_root(MediaConfig(root=Path("/data/chips")), "sqlite:///x.db") == Path(
        "/data/chips"
    )
    with pytest.raises(ValueError, match="image/gif is not an image type the store knows"):
        MediaConfig(content_types=("image/gif",))


def test_migration_0002_adds_the_media_tables_to_a_database_with_data(station_db: str) -> None:
    engine = open_engine(station_db)
    upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO boxes (agent_id, first_seen_at, last_seen_at) "
            "VALUES ('den-01', '2026-06-01 03:00:00', '2026-06-01 03:00:00')"
        )
    assert upgrade(engine, "0002") == ("0001", "0002")
    with engine.begin() as conn:
        conn.execute(
            media.insert().values(
                sha256="ab" * 32, size=3, content_type="image/jpeg", stored_at=datetime.now(UTC)
            )
        )
        assert conn.exec_driver_sql("SELECT count(*) FROM boxes").scalar_one() == 1
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    assert current_revision(engine) == "0001"
    with engine.connect() as conn:
        assert "media" not in conn.dialect.get_table_names(conn)


def test_media_usage_command(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'station.db'}"
    engine = fresh_engine(db)
    store = MediaStore(tmp_path / "station-media")
    chips = [jpeg_chip(i) for i in (10, 11)]
    with engine.begin() as conn:
        for i, data in enumerate(chips):
            store_chip(conn, store, upload("den-01", f"kuhmo/cam01/{i}.jpg", data, WHEN))
        store_chip(conn, store, upload("den-02", "kuhmo/cam01/0.jpg", chips[0], WHEN))
    engine.dispose()
    total = sum(map(len, chips))
    result = CliRunner().invoke(main, ["media", "usage", "--db", db], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"media folder: {tmp_path / 'station-media'}",
        f"files: 2 ({total:,} bytes, {total / 2**20:.1f} MiB)",
        f"database: 2 stored files ({total:,} bytes, {total / 2**20:.1f} MiB) for 3 box chips",
    ]
    os.remove(store.path_of(hashlib.sha256(chips[1]).hexdigest()))
    result = CliRunner().invoke(main, ["media", "usage", "--db", db], catch_exceptions=False)
    assert result.output.splitlines()[-1] == (
        "warning: 1 files the database lists are missing from the folder (moved or deleted?)"
    )
