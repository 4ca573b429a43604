"""Indexing a chips folder: file names, capture-time sources, encounters, metadata CSV, errors."""

from __future__ import annotations

import csv
import os
import zlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from PIL import Image

from beartrain.data import (
    ChipsFolderError,
    DataConfig,
    DataConfigError,
    MetadataError,
    index_chips,
    index_folder,
)
from beartrain.data.names import NameFields, NameParser
from beartrain.synthetic import SyntheticConfig, write_population

T0 = datetime(2026, 5, 14, 6, 15, 2)


def write_chip(path: Path, exif: str | None = None, offset: str | None = None) -> Path:
    """A real little JPEG, with EXIF DateTimeOriginal (and OffsetTimeOriginal) when given."""
    data = Image.Exif()
    if exif is not None:
        ifd = data.get_ifd(0x8769)
        ifd[0x9003] = exif
        if offset is not None:
            ifd[0x9011] = offset
    path.parent.mkdir(parents=True, exist_ok=True)
    # Each chip its own picture (seeded by its name), so no two are near-duplicates.
    rng = np.random.default_rng(zlib.crc32(path.name.encode()))
    pixels = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    Image.fromarray(pixels).save(path, "JPEG", exif=data)
    return path


def trap_name(camera: str, when: datetime, number: int) -> str:
    return f"{camera}_{when:%Y%m%d-%H%M%S}_{number:05d}.jpg"


def partition(rows: list[tuple[str, str]]) -> set[frozenset[str]]:
    """Paths grouped by encounter id: (path, encounter) pairs -> set of groups."""
    groups: dict[str, set[str]] = {}
    for path, encounter in rows:
        groups.setdefault(encounter, set()).add(path)
    return {frozenset(g) for g in groups.values()}


def encounter_groups(root: Path, cfg: DataConfig | None = None) -> set[frozenset[str]]:
    return partition([(r.path, r.encounter) for r in index_chips(cfg or DataConfig(), root)])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "cam02_20260514-061502_00042.jpg",
            NameFields(time=datetime(2026, 5, 14, 6, 15, 2, tzinfo=UTC), camera="cam02"),
        ),
        (
            "20250401093214_20250401093754_0018_cls0.jpg",
            NameFields(
                time=datetime(2025, 4, 1, 9, 32, 14, tzinfo=UTC),
                end=datetime(2025, 4, 1, 9, 37, 54, tzinfo=UTC),
                clip="20250401093214_20250401093754",
                frame=18,
            ),
        ),
        (
            "20250415102036_20250415102807_20250418_17474361_000067_obj1_cls0.jpg",
            NameFields(
                time=datetime(2025, 4, 15, 10, 20, 36, tzinfo=UTC),
                end=datetime(2025, 4, 15, 10, 28, 7, tzinfo=UTC),
                clip="20250415102036_20250415102807",
                frame=67,
            ),
        ),
        (
            "J29_2025.03.2623_12_18_manual_20250417_15385560_000003_obj1_cls0.jpg",
            NameFields(
                time=datetime(2025, 3, 26, 23, 12, 18, tzinfo=UTC),
                camera="J29",
                clip="J29_2025.03.2623_12_18",
                frame=3,
            ),
        ),
        ("331-2-5-3(1).jpg", NameFields(clip="331-2-5-3", frame=1)),
        ("403-1-7-7-(2).jpg", NameFields(clip="403-1-7-7", frame=2)),
        ("330-1-6-8_(3).jpg", NameFields(clip="330-1-6-8", frame=3)),
        ("414-1-2-7-5.jpg", NameFields(clip="414-1-2-7", frame=5)),
        ("403-1-9-4.jpg", NameFields(clip="403-1-9-4")),
        ("001.jpg", NameFields()),
        ("IMG_0001.JPG", NameFields()),
    ],
)
def test_default_pattern_reads_each_naming_scheme(name: str, expected: NameFields) -> None:
    assert NameParser(DataConfig()).parse(f"cow/{name}") == expected


def test_capture_time_comes_from_metadata_then_exif_then_name_then_mtime(tmp_path: Path) -> None:
    root = tmp_path / "chips"
    write_chip(root / "a" / "listed.jpg", exif="2026:05:14 06:15:02")
    write_chip(root / "a" / "exif.jpg", exif="2026:05:14 06:15:02")
    write_chip(root / "a" / "aware.jpg", exif="2026:05:14 06:15:02", offset="+02:00")
    write_chip(root / "a" / trap_name("cam01", T0, 1))
    plain = write_chip(root / "a" / "plain.jpg")
    os.utime(plain, (1_700_000_000, 1_700_000_000))
    meta = tmp_path / "meta.csv"
    meta.write_text("path,captured_at\na/listed.jpg,2026-01-02T03:04:05+01:00\n")
    zone = ZoneInfo("Europe/Ljubljana")
    cfg = DataConfig(metadata_csv=meta, timezone="Europe/Ljubljana")
    index = index_folder(cfg, root)
    got = {c.path.split("/")[1]: (c.captured_at, c.source) for c in index.chips}
    assert got == {
        "listed.jpg": (
            datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=1))),
            "metadata",
        ),
        "exif.jpg": (T0.replace(tzinfo=zone), "exif"),
        "aware.jpg": (T0.replace(tzinfo=timezone(timedelta(hours=2))), "exif"),
        "cam01_20260514-061502_00001.jpg": (T0.replace(tzinfo=zone), "filename"),
        "plain.jpg": (datetime.fromtimestamp(1_700_000_000, tz=UTC), "mtime"),
    }
    no_mtime = index_folder(DataConfig(use_mtime=False), root)
    assert [(c.captured_at, c.source) for c in no_mtime.chips if c.path == "a/plain.jpg"] == [
        (None, "none")
    ]


def test_only_chips_in_individual_folders_count(tmp_path: Path) -> None:
    write_chip(tmp_path / "bear-1" / "a.jpg")
    write_chip(tmp_path / "bear-1" / "b.PNG")
    write_chip(tmp_path / "bear-1" / "night" / "c.jpeg")
    write_chip(tmp_path / "bear-1" / ".hidden.jpg")
    write_chip(tmp_path / ".cache" / "d.jpg")
    write_chip(tmp_path / "loose.jpg")
    (tmp_path / "bear-1" / "notes.txt").write_text("not a chip")
    index = index_folder(DataConfig(), tmp_path)
    assert [r.path for r in index.rows] == ["bear-1/a.jpg", "bear-1/b.PNG", "bear-1/night/c.jpeg"]
    assert {r.individual for r in index.rows} == {"bear-1"}
    assert index.scan.skipped == ["bear-1/notes.txt", "loose.jpg"]


def test_bursts_chain_within_the_gap_per_individual_and_camera(tmp_path: Path) -> None:
    files = {
        "b1/" + trap_name("cam01", T0, 1),
        "b1/" + trap_name("cam01", T0 + timedelta(seconds=50), 2),
        "b1/" + trap_name("cam01", T0 + timedelta(seconds=100), 3),  # 50 s after the last
        "b1/" + trap_name("cam01", T0 + timedelta(seconds=200), 4),  # 100 s: a new burst
        "b1/" + trap_name("cam02", T0 + timedelta(seconds=10), 5),  # another camera
        "b2/" + trap_name("cam01", T0 + timedelta(seconds=20), 6),  # another individual
    }
    for rel in files:
        write_chip(tmp_path / rel)
    names = sorted(files)
    by_number = {int(p[-9:-4]): p for p in names}
    assert encounter_groups(tmp_path) == {
        frozenset({by_number[1], by_number[2], by_number[3]}),
        frozenset({by_number[4]}),
        frozenset({by_number[5]}),
        frozenset({by_number[6]}),
    }
    wider = encounter_groups(tmp_path, DataConfig(encounter_gap_s=120))
    assert frozenset({by_number[1], by_number[2], by_number[3], by_number[4]}) in wider
    rows = index_chips(DataConfig(), tmp_path)
    assert {r.camera for r in rows} == {"cam01", "cam02"}


def test_clips_shot_series_and_numbered_chips_group(tmp_path: Path) -> None:
    cow = tmp_path / "cow-7"
    clip_a = [f"20250401093214_20250401093754_{n:04d}_cls0.jpg" for n in (3, 18)]
    clip_b = ["20250401093800_20250401094300_0001_cls0.jpg"]  # starts 6 s after clip_a ends
    clip_c = ["20250401120000_20250401120500_0002_cls0.jpg"]
    series = ["331-2-5-3(1).jpg", "331-2-5-3(2).jpg", "414-1-2-7-1.jpg", "414-1-2-7-2.jpg"]
    loose = ["001.jpg", "002.jpg"]
    for name in clip_a + clip_b + clip_c + series + loose:
        write_chip(cow / name)
        os.utime(cow / name, (1_700_000_000, 1_700_000_000))

    def group(*names: str) -> frozenset[str]:
        return frozenset(f"cow-7/{n}" for n in names)

    expected = {
        group(*clip_a, *clip_b),
        group(*clip_c),
        group(*series[:2]),
        group(*series[2:]),
        group(*loose),  # numbered chips nothing dates: one shot series of the folder
    }
    assert encounter_groups(tmp_path) == expected
    assert encounter_groups(tmp_path, DataConfig(use_mtime=False)) == expected
    # trusting mtime (all equal here) chains everything that only mtime dates
    trusted = encounter_groups(tmp_path, DataConfig(mtime_encounters=True))
    assert group(*series, *loose) in trusted


def test_encounter_ids_are_stable_unique_and_name_the_first_member(tmp_path: Path) -> None:
    for rel in (
        "b1/" + trap_name("cam01", T0, 1),
        "b1/" + trap_name("cam01", T0 + timedelta(seconds=5), 2),
        "b1/331-2-5-3(1).jpg",
        "b1/331-2-5-3(2).jpg",
        "b1/001.jpg",
        "b2/001.jpg",
    ):
        write_chip(tmp_path / rel)
    cfg = DataConfig(use_mtime=False)
    first, second = index_chips(cfg, tmp_path), index_chips(cfg, tmp_path)
    assert first == second
    assert {r.path: r.encounter for r in first} == {
        "b1/001.jpg": "b1/series:b1",
        "b1/331-2-5-3(1).jpg": "b1/clip:331-2-5-3",
        "b1/331-2-5-3(2).jpg": "b1/clip:331-2-5-3",
        "b1/cam01_20260514-061502_00001.jpg": "b1/cam01_20260514-061502_00001.jpg",
        "b1/cam01_20260514-061507_00002.jpg": "b1/cam01_20260514-061502_00001.jpg",
        "b2/001.jpg": "b2/series:b2",
    }


def test_metadata_csv_values_win(tmp_path: Path) -> None:
    root = tmp_path / "chips"
    for rel in ("folder-a/x.jpg", "folder-a/y.jpg", "folder-b/z.jpg", "folder-b/w.jpg"):
        write_chip(root / rel, exif="2026:05:14 06:15:02")
    meta = tmp_path / "meta.csv"
    with meta.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "individual", "camera", "captured_at", "encounter", "note"])
        writer.writerow(["folder-a/x.jpg", "bear-9", "cam07", "2026-06-01T10:00:00", "e1", "x"])
        writer.writerow(["folder-a/y.jpg", "", "", "", "e1", ""])
        writer.writerow(["./folder-b/z.jpg", "", "", "", "e1", ""])
    rows = {r.path: r for r in index_chips(DataConfig(metadata_csv=meta), root)}
    x, y, z, w = (
        rows[p] for p in ("folder-a/x.jpg", "folder-a/y.jpg", "folder-b/z.jpg", "folder-b/w.jpg")
    )
    assert (x.individual, x.camera, x.captured_at) == (
        "bear-9",
        "cam07",
        datetime(2026, 6, 1, 10, tzinfo=UTC),
    )
    assert (y.individual, y.camera, y.captured_at) == ("folder-a", "", T0.replace(tzinfo=UTC))
    # "e1" names chips of three individuals: each keeps its own encounter
    assert (x.encounter, y.encounter, z.encounter) == ("bear-9/e1", "folder-a/e1", "folder-b/e1")
    assert w.encounter == "folder-b/w.jpg"


def test_metadata_csv_mistakes_are_named(tmp_path: Path) -> None:
    write_chip(tmp_path / "chips" / "b1" / "a.jpg")
    meta = tmp_path / "meta.csv"
    cases = {
        "file,camera\nb1/a.jpg,cam01\n": (
            f"metadata CSV {meta} has no 'path' column (columns: file, camera): use the header "
            "path,individual,camera,captured_at,encounter"
        ),
        "path\nb1/a.jpg\nb1/missing.jpg\n": (
            f"metadata CSV {meta} lists 1 chips that are not in {tmp_path / 'chips'} "
            "(first: b1/missing.jpg): paths must be relative to the chips folder"
        ),
        "path,captured_at\nb1/a.jpg,yesterday\n": (
            f"{meta}:2: captured_at 'yesterday' is not an ISO 8601 time: "
            "write it like 2026-05-14T06:15:02+02:00"
        ),
        "path\nb1/a.jpg\nb1/a.jpg\n": f"{meta}:3: b1/a.jpg is listed twice: keep one row",
    }
    for text, message in cases.items():
        meta.write_text(text)
        with pytest.raises(MetadataError) as caught:
            index_chips(DataConfig(metadata_csv=meta), tmp_path / "chips")
        assert str(caught.value) == message


def test_folder_and_config_mistakes_are_named(tmp_path: Path) -> None:
    with pytest.raises(ChipsFolderError) as missing:
        index_chips(DataConfig(), tmp_path / "nope")
    assert str(missing.value) == (
        f"chips folder {tmp_path / 'nope'} does not exist: give the folder that holds one "
        "sub-folder per individual"
    )
    (tmp_path / "b1").mkdir()
    (tmp_path / "b1" / "a.txt").write_text("x")
    with pytest.raises(ChipsFolderError) as empty:
        index_chips(DataConfig(extensions=(".jpg",)), tmp_path)
    assert str(empty.value) == (
        f"no chips in {tmp_path}: expected <root>/<individual>/<image> with an extension among "
        ".jpg, or a metadata table (--metadata) that lists them"
    )
    with pytest.raises(DataConfigError, match=r"^unknown timezone 'Mars/Olympus': use an IANA"):
        index_chips(DataConfig(timezone="Mars/Olympus"), tmp_path)
    with pytest.raises(DataConfigError, match=r"^filename_pattern is not a valid regular exp"):
        index_chips(DataConfig(filename_pattern="(?P<time>"), tmp_path)


def test_synthetic_encounters_are_recovered_without_the_csv(tmp_path: Path) -> None:
    cfg = SyntheticConfig(individuals=5, min_encounters=3, max_encounters=5, size=32, cameras=2)
    records = write_population(tmp_path, cfg)
    index = index_folder(DataConfig(), tmp_path)
    assert {c.source for c in index.chips} == {"exif"}
    truth = {r.path: r for r in records}
    assert partition([(r.path, r.encounter) for r in index.rows]) == partition(
        [(r.path, r.encounter) for r in records]
    )
    for row in index.rows:
        assert (row.individual, row.camera, row.captured_at) == (
            truth[row.path].individual,
            truth[row.path].camera,
            truth[row.path].captured_at,
        )
    # with the CSV, its encounter ids are used as they are
    with_csv = index_folder(DataConfig(metadata_csv=tmp_path / "metadata.csv"), tmp_path)
    assert {r.path: r.encounter for r in with_csv.rows} == {
        p: t.encounter for p, t in truth.items()
    }
    assert {c.source for c in with_csv.chips} == {"metadata"}
