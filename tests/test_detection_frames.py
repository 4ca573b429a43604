"""From boxes to chips, and the frames around them: crops, the blur filter, chip files and
their sidecars, the frames table, clip start times and clip sampling."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np

from bearagent.chips import FileNamePattern, read_sidecar
from bearagent.detection.chipwriter import ChipOrigin, write_chip
from bearagent.detection.cliptime import avi_creation_time, mp4_creation_time
from bearagent.detection.crops import Chip, CropRules, crop_rect, make_chip, sharpness
from bearagent.detection.frames_table import (
    FrameRecord,
    FramesTable,
    ensure_schema,
    frames_summary,
    mark_blanks_published,
    unpublished_blanks,
)
from bearagent.detection.sources import Clip, clip_start
from bearagent.store import open_database, transaction
from bearagent.watch import ChipSource
from support.detector_frames import compose, set_avi_idit, set_mp4_creation_time, write_clip

UTC2 = timezone(timedelta(hours=2))


def test_the_crop_is_square_with_its_margin_and_inside_the_frame() -> None:
    rules = CropRules(margin=0.25, square=True)
    assert crop_rect(np.array([100, 100, 140, 180]), rules, 640, 480) == (60, 80, 180, 200)
    assert crop_rect(np.array([0, 0, 40, 40]), rules, 640, 480) == (0, 0, 50, 50)
    assert crop_rect(np.array([600, 440, 640, 480]), CropRules(0.0, False), 640, 480) == (
        600, 440, 640, 480,
    )  # fmt: skip


def test_small_and_blurred_boxes_make_no_chip() -> None:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (480, 640, 3)).astype(np.uint8)
    frame[200:300, 300:400] = cv2.GaussianBlur(frame[200:300, 300:400], (0, 0), 6)
    rules = CropRules(margin=0.0, min_size_px=32, min_sharpness=50.0)
    assert make_chip(frame, np.array([10, 10, 30, 60]), 0.9, rules) == "too_small"
    assert make_chip(frame, np.array([300, 200, 400, 300]), 0.9, rules) == "blurred"
    chip = make_chip(frame, np.array([10, 10, 110, 90]), 0.9, rules)
    assert isinstance(chip, Chip) and chip.image.shape == (100, 100, 3)
    assert chip.box_xywh == (10.0, 10.0, 100.0, 80.0)
    # The measure does not depend on the crop's size: one scene, cut at 100 and at 200 px.
    scene = cv2.GaussianBlur(rng.integers(0, 255, (400, 400, 3)).astype(np.uint8), (0, 0), 4)
    small, large = (cv2.resize(scene, (s, s), interpolation=cv2.INTER_AREA) for s in (100, 200))
    assert 0.7 < sharpness(large) / sharpness(small) < 1.4

    def raw(image: np.ndarray) -> float:  # unscaled, the measure would depend on size
        return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())

    assert raw(small) / raw(large) > 3
    assert sharpness(cv2.GaussianBlur(large, (0, 0), 3)) < sharpness(large) / 4


def origin(sha: str = "a" * 64, stem: str = "IMG_0001") -> ChipOrigin:
    return ChipOrigin(
        "north", "cam01", stem, f"north/cam01/{stem}.JPG", sha,
        datetime(2026, 7, 1, 14, 0, 5, tzinfo=UTC2), "grid",
    )  # fmt: skip


def a_chip(seed: int = 0) -> Chip:
    image = np.random.default_rng(seed).integers(0, 255, (64, 64, 3)).astype(np.uint8)
    return Chip(image, (10.0, 20.0, 64.0, 64.0), 0.91, 300.0)


def test_a_chip_and_its_sidecar_as_the_agent_reads_them(tmp_path: Path) -> None:
    path = write_chip(tmp_path, origin(), 0, a_chip(), quality=95)
    assert path == tmp_path / "north" / "cam01" / "IMG_0001_0.jpg"
    side = read_sidecar(path, UTC)
    assert side is not None and side.captured_at == datetime(2026, 7, 1, 14, 0, 5, tzinfo=UTC2)
    assert side.detection is not None
    assert side.detection.box == (10.0, 20.0, 64.0, 64.0) and side.detection.score == 0.91
    assert side.detection.source_frame == "north/cam01/IMG_0001.JPG"
    assert side.detection.detector == "grid"
    # No dot-named leftovers: both files were renamed into place.
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "IMG_0001_0.jpg",
        "IMG_0001_0.jpg.json",
    ]


def test_writing_the_same_chip_again_changes_nothing(tmp_path: Path) -> None:
    path = write_chip(tmp_path, origin(), 0, a_chip(), quality=95)
    before = (path.stat().st_mtime_ns, path.with_name(path.name + ".json").stat().st_mtime_ns)
    os.utime(path, ns=(1, 1))
    assert write_chip(tmp_path, origin(), 0, a_chip(), quality=95) == path
    assert path.stat().st_mtime_ns == 1  # not rewritten: the ledger has seen these bytes
    assert before[1] == path.with_name(path.name + ".json").stat().st_mtime_ns


def test_another_frame_with_the_same_name_gets_its_own_chip(tmp_path: Path) -> None:
    first = write_chip(tmp_path, origin("a" * 64), 0, a_chip(0), quality=95)
    second = write_chip(tmp_path, origin("b" * 64), 0, a_chip(1), quality=95)
    assert second.name == "IMG_0001_bbbbbbbb_0.jpg" and first.read_bytes() != second.read_bytes()
    assert json.loads(second.with_name(second.name + ".json").read_text())["frame_sha256"] == (
        "b" * 64
    )


def record(path: str, status: str, camera: str = "cam01", sha: str | None = None) -> FrameRecord:
    return FrameRecord(
        "/traps", path, 10, 1, sha, "frame", "north", camera, status,  # type: ignore[arg-type]
        captured_at=datetime(2026, 7, 1, 14, 0, tzinfo=UTC), time_source="exif",
    )  # fmt: skip


def test_the_frames_table(tmp_path: Path) -> None:
    db = open_database(tmp_path / "agent.db")
    ensure_schema(db)
    ensure_schema(db)  # migrations run once
    table = FramesTable(db)
    with transaction(db):
        table.record(record("north/cam01/a.jpg", "blank", sha="1" * 64))
        table.record(record("north/cam01/b.jpg", "detected", sha="2" * 64))
        table.record(record("north/cam02/c.jpg", "blank", "cam02", sha="3" * 64))
        table.record(record("north/cam02/d.jpg", "rejected", "cam02"))
    assert table.seen_path("/traps", "north/cam01/a.jpg", 10, 1)
    assert not table.seen_path("/traps", "north/cam01/a.jpg", 11, 1)
    assert table.seen_content("2" * 64) and not table.seen_content("4" * 64)
    assert frames_summary(db) == {
        "by_status": {"blank": 2, "detected": 1, "rejected": 1},
        "blanks_by_camera": {"north/cam01": 1, "north/cam02": 1},
        "blanks_unpublished": 2,
        "chips_written": 0,
    }
    waiting = unpublished_blanks(db)
    assert [(b.camera, b.file) for b in waiting] == [
        ("cam01", "north/cam01/a.jpg"),
        ("cam02", "north/cam02/c.jpg"),
    ]
    with transaction(db):
        assert mark_blanks_published(db, [waiting[0].id]) == 1
        assert mark_blanks_published(db, [waiting[0].id]) == 0  # a repeat changes nothing
    assert [b.file for b in unpublished_blanks(db)] == ["north/cam02/c.jpg"]


def test_clip_start_times_from_the_container(tmp_path: Path) -> None:
    frames = [compose([]) for _ in range(3)]
    mp4 = write_clip(tmp_path / "a.mp4", frames, fps=5.0)
    assert mp4_creation_time(mp4) is None  # OpenCV leaves it unset (zero)
    when = datetime(2026, 7, 1, 12, 0, 7, tzinfo=UTC)
    set_mp4_creation_time(mp4, when)
    assert mp4_creation_time(mp4) == when
    avi = write_clip(tmp_path / "b.avi", frames, fps=5.0)
    assert avi_creation_time(avi) is None
    set_avi_idit(avi, "WED JUL 01 14:00:07 2026")
    assert avi_creation_time(avi) == datetime(2026, 7, 1, 14, 0, 7)  # the camera's local time
    assert Clip(source_of(avi, tmp_path), 40_000_000).fps == 5.0  # still a playable clip
    assert mp4_creation_time(avi) is None and avi_creation_time(mp4) is None
    (tmp_path / "junk.mp4").write_bytes(os.urandom(300))
    assert mp4_creation_time(tmp_path / "junk.mp4") is None


def source_of(path: Path, root: Path) -> ChipSource:
    return ChipSource(path, root, path.relative_to(root).as_posix(), "north", "cam01")


def test_clip_start_falls_back_to_the_name_then_the_mtime(tmp_path: Path) -> None:
    names = FileNamePattern(timezone=UTC2)
    named = write_clip(tmp_path / "cam01_20260701-140000_00001.mp4", [compose([])], fps=5.0)
    assert clip_start(source_of(named, tmp_path), 0.0, 3.0, names, UTC2) == (
        datetime(2026, 7, 1, 14, 0, tzinfo=UTC2),
        "filename",
    )
    plain = write_clip(tmp_path / "PICT0001.mp4", [compose([])], fps=5.0)
    ended = datetime(2026, 7, 1, 14, 0, 30, tzinfo=UTC).timestamp()
    assert clip_start(source_of(plain, tmp_path), ended, 10.0, names, UTC2) == (
        datetime(2026, 7, 1, 14, 0, 20, tzinfo=UTC),
        "mtime",
    )


def test_a_clip_is_sampled_at_the_configured_rate(tmp_path: Path) -> None:
    frames = [np.full((48, 64, 3), 10 * i, np.uint8) for i in range(16)]
    path = write_clip(tmp_path / "c.avi", frames, fps=5.0)
    clip = Clip(source_of(path, tmp_path), 40_000_000)
    sampled = list(clip.sample(per_second=1.0, max_frames=10))
    assert [(s.index, s.offset_s) for s in sampled] == [(0, 0.0), (5, 1.0), (10, 2.0), (15, 3.0)]
    assert [round(s.image.mean() / 10) for s in sampled] == [0, 5, 10, 15]  # MJPG: lossy
    clip.close()
    clip = Clip(source_of(path, tmp_path), 40_000_000)
    assert len(list(clip.sample(per_second=5.0, max_frames=3))) == 3
    clip.close()
