"""The gallery library on real SQLite files: enrol, rename, remove, promote, provisional ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sqlite_utils
from hypothesis import given, settings
from hypothesis import strategies as st

from bearagent import gallery
from bearagent.gallery.codec import from_blob, stack_blobs, to_blob
from bearagent.runtime import Embedder, RuntimeConfig, open_embedder
from bearagent.store import transaction
from support.gallery_helpers import carded_model, enrol_tree, write_chip

SHA = "a" * 64


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    return gallery.open_gallery(tmp_path / "agent.db")


@pytest.fixture
def embedder(tmp_path: Path) -> Embedder:
    model = carded_model(tmp_path / "model")
    return open_embedder(RuntimeConfig(model=model, providers=["CPUExecutionProvider"]))


def unit(n: int, seed: int = 0, dim: int = 8) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def test_enrol_a_folder_then_again_adds_only_new_images(
    db: sqlite_utils.Database, embedder: Embedder, tmp_path: Path
) -> None:
    root = enrol_tree(tmp_path / "chips", per_individual=3)
    (root / "grazer" / "broken.jpg").write_bytes(b"not a jpeg")
    (root / "readme.txt").write_text("stray")
    report = gallery.enroll_folder(db, root, embedder)
    assert report.added == {"grazer": 3, "otis": 3}
    assert report.created == {"grazer": "bear-0001", "otis": "bear-0002"}
    assert sorted(p.name for p in report.rejected) == ["broken.jpg", "readme.txt"]
    assert "not an image file" in report.rejected[(root / "grazer" / "broken.jpg").resolve()]
    write_chip(root / "otis" / "9.png", (40, 90, 200))
    again = gallery.enroll_folder(db, root, embedder)
    assert again.added == {"otis": 1} and again.created == {}
    assert len(again.already_enrolled) == 6
    otis = gallery.get_individual(db, "OTIS")
    assert (otis.id, otis.name, otis.kind, otis.references) == ("bear-0002", "otis", "known", 4)
    assert gallery.gallery_models(db) == [embedder.card.model.sha256]


def test_provisional_ids_are_allocated_in_order_and_never_reused(
    db: sqlite_utils.Database,
) -> None:
    first = gallery.create_provisional(db, unit(2), SHA, "/traps/a.jpg")
    with transaction(db):  # inside the agent's transaction: nothing commits early
        second = gallery.create_provisional(db, unit(1, 1), SHA, ["/traps/b.jpg"])
        assert db.conn.in_transaction
    assert (first, second) == ("unknown-0001", "unknown-0002")
    gallery.remove(db, "unknown-0002")
    assert gallery.create_provisional(db, unit(1, 2), SHA, "/traps/c.jpg") == "unknown-0003"
    kinds = [(i.id, i.kind, i.references) for i in gallery.list_individuals(db)]
    assert kinds == [("unknown-0001", "provisional", 2), ("unknown-0003", "provisional", 1)]


def test_a_failed_transaction_leaves_no_provisional_behind(db: sqlite_utils.Database) -> None:
    with pytest.raises(RuntimeError), transaction(db):
        gallery.create_provisional(db, unit(1), SHA, "/traps/a.jpg")
        raise RuntimeError("crash before the outbox row")
    assert gallery.list_individuals(db) == []
    assert gallery.create_provisional(db, unit(1), SHA, "/traps/a.jpg") == "unknown-0001"


def test_promote_creates_or_joins_a_named_individual_and_moves_sightings(
    db: sqlite_utils.Database,
) -> None:
    unknown = gallery.create_provisional(db, unit(2), SHA, "/traps/a.jpg")
    with transaction(db):
        gallery.record_sighting(
            db, gallery.Sighting("cam1/a.jpg", SHA, unknown, 0.91, "cam1", "site", "2026-05-14")
        )
    named = gallery.promote(db, unknown, "Bruno")
    assert (named.id, named.name, named.kind, named.references, named.sightings) == (
        "bear-0001", "Bruno", "known", 2, 1,
    )  # fmt: skip
    again = gallery.create_provisional(db, unit(1, 5), SHA, "/traps/b.jpg")
    merged = gallery.promote(db, again, "bruno")
    assert (merged.id, merged.references) == ("bear-0001", 3)
    with pytest.raises(gallery.UnknownIndividual) as e:
        gallery.get_individual(db, again)
    assert str(e.value) == (
        f"no individual 'unknown-0002' in gallery {db_file(db)}: see `bearagent gallery list`"
    )
    with pytest.raises(gallery.NotProvisional, match=r"bear-0001 \(Bruno\) is already a named"):
        gallery.promote(db, "bear-0001", "Other")


def db_file(db: sqlite_utils.Database) -> str:
    return str(db.execute("PRAGMA database_list").fetchone()[2])


def test_rename_refuses_duplicates_and_id_like_names(db: sqlite_utils.Database) -> None:
    a = gallery.create_known(db, "Otis")
    gallery.create_known(db, "Grazer")
    with pytest.raises(gallery.DuplicateName) as e:
        gallery.rename(db, a, "grazer")
    assert str(e.value) == (
        f"the name 'grazer' is already used by bear-0002 in gallery {db_file(db)}: choose "
        "another name, or remove or rename that individual first"
    )
    with pytest.raises(gallery.InvalidName, match="names that look like ids"):
        gallery.rename(db, a, "unknown-0004")
    with pytest.raises(gallery.InvalidName, match="use 1 to 100 characters"):
        gallery.rename(db, a, "  ")
    assert gallery.rename(db, "otis", "Otis the Elder").name == "Otis the Elder"


def test_remove_keeps_sightings_as_history(db: sqlite_utils.Database) -> None:
    bear = gallery.create_known(db, "Otis")
    gallery.add_references(db, bear, unit(3), SHA, "/ref.jpg")
    with transaction(db):
        gallery.record_sighting(db, gallery.Sighting("a.jpg", SHA, bear, 0.8))
    removed = gallery.remove(db, "Otis")
    assert (removed.id, removed.references, removed.sightings) == ("bear-0001", 3, 1)
    assert db.execute("SELECT count(*) FROM reference_embeddings").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM sightings").fetchone()[0] == 1


def test_references_of_another_model_are_refused(db: sqlite_utils.Database) -> None:
    bear = gallery.create_known(db, "Otis")
    gallery.add_references(db, bear, unit(1), SHA, "/ref.jpg")
    with pytest.raises(gallery.GalleryModelMismatch) as e:
        gallery.add_references(db, bear, unit(1), "b" * 64, "/ref2.jpg")
    assert str(e.value) == (
        f"gallery {db_file(db)} holds embeddings made with another model (sha256 aaaaaaaaaaaa...) "
        "than the model in use (sha256 bbbbbbbbbbbb...): run `bearagent gallery reembed "
        "--model MODEL` with the model in use to re-embed its references"
    )
    with pytest.raises(gallery.EmbeddingSizeMismatch, match="holds embeddings of size 8"):
        gallery.add_references(db, bear, unit(1, dim=4), SHA, "/ref3.jpg")


def test_generation_changes_on_every_change(db: sqlite_utils.Database) -> None:
    seen = [gallery.generation(db)]
    bear = gallery.create_known(db, "Otis")
    seen.append(gallery.generation(db))
    gallery.add_references(db, bear, unit(1), SHA, "/ref.jpg")
    seen.append(gallery.generation(db))
    gallery.rename(db, bear, "Otis II")
    seen.append(gallery.generation(db))
    assert len(set(seen)) == len(seen)


def test_reembed_after_a_model_change_and_with_missing_images(
    db: sqlite_utils.Database, embedder: Embedder, tmp_path: Path
) -> None:
    root = enrol_tree(tmp_path / "chips", per_individual=2)
    gallery.enroll_folder(db, root, embedder)
    new_model = carded_model(tmp_path / "model2", seed=7, name="tiny-v2")
    with open_embedder(RuntimeConfig(model=new_model, providers=["CPUExecutionProvider"])) as new:
        gone = (root / "otis" / "1.png").resolve()
        gone.unlink()
        with pytest.raises(gallery.MissingReferenceImages) as e:
            gallery.reembed(db, new)
        assert str(e.value) == (
            f"1 reference image(s) cannot be read: {gone}: the file is gone. Restore them, "
            "or run again with --drop-missing to remove those references"
        )
        assert gallery.gallery_models(db) == [embedder.card.model.sha256]  # nothing changed
        report = gallery.reembed(db, new, drop_missing=True)
        assert (report.reembedded, list(report.dropped)) == (3, [str(gone)])
        assert gallery.gallery_models(db) == [new.card.model.sha256]
        assert gallery.reembed(db, new).up_to_date == 3


def test_import_keeps_two_boxes_unknowns_apart_and_refuses_another_model(
    tmp_path: Path,
) -> None:
    box_a = gallery.open_gallery(tmp_path / "a.db")
    box_b = gallery.open_gallery(tmp_path / "b.db")
    gallery.create_provisional(box_a, unit(1, 1), SHA, "/a/traps/1.jpg")
    gallery.create_provisional(box_b, unit(1, 2), SHA, "/b/traps/1.jpg")
    gallery.export_gallery(box_a, tmp_path / "a.json")
    report = gallery.import_gallery(box_b, tmp_path / "a.json")
    assert report.created == {"unknown-0001": "unknown-0002"} and report.references_added == 1
    assert gallery.create_provisional(box_b, unit(1, 3), SHA, "/b/2.jpg") == "unknown-0003"
    box_c = gallery.open_gallery(tmp_path / "c.db")
    gallery.create_provisional(box_c, unit(1, 4), "f" * 64, "/c/1.jpg")
    with pytest.raises(gallery.GalleryModelMismatch, match="import it into a gallery of the same"):
        gallery.import_gallery(box_c, tmp_path / "a.json")
    assert len(gallery.list_individuals(box_c)) == 1  # nothing half-imported


def test_enrol_reports_a_folder_named_like_an_id(
    db: sqlite_utils.Database, embedder: Embedder, tmp_path: Path
) -> None:
    root = enrol_tree(tmp_path / "chips", per_individual=1, names=("otis",))
    write_chip(root / "bear-0009" / "0.png", (1, 2, 3))
    report = gallery.enroll_folder(db, root, embedder)
    assert report.added == {"otis": 1}
    (reason,) = report.rejected.values()
    assert "names that look like ids" in reason
    with pytest.raises(gallery.GalleryError, match="is not a folder: enrol a folder laid out"):
        gallery.enroll_folder(db, tmp_path / "nowhere", embedder)


@settings(max_examples=50, deadline=None)
@given(
    vectors=st.lists(
        st.lists(st.floats(width=32, allow_nan=False), min_size=3, max_size=3),
        min_size=1,
        max_size=6,
    )
)
def test_embedding_blobs_round_trip_exactly(vectors: list[list[float]]) -> None:
    matrix = np.asarray(vectors, dtype=np.float32)
    blobs = [to_blob(v) for v in matrix]
    assert all(len(b) == 12 for b in blobs)
    np.testing.assert_array_equal(stack_blobs(blobs, 3), matrix)
    np.testing.assert_array_equal(from_blob(blobs[0], 3), matrix[0])
