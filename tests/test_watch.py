"""The folder watcher on real files: complete files once, backlog, temp names, safe reads,
and a rescan at once when the kernel's inotify queue overflows."""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bearagent.chips import ChipRejected
from bearagent.watch import ChipSource, FolderWatcher, PathRules, WatchConfig, read_chip
from support.privileged import small_inotify_queue


class Collected:
    def __init__(self) -> None:
        self.q: queue.Queue[ChipSource] = queue.Queue()

    def __call__(self, source: ChipSource) -> None:
        self.q.put(source)

    def next(self, timeout: float = 5.0) -> ChipSource:
        return self.q.get(timeout=timeout)

    def quiet(self, seconds: float = 0.6) -> list[str]:
        out = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                out.append(self.q.get(timeout=left).relative)
            except queue.Empty:
                break
        return out


def make_watcher(root: Path, sink: Collected, **cfg: object) -> FolderWatcher:
    config = WatchConfig.model_validate({"roots": [root], "stable_after_s": 0.5, **cfg})
    return FolderWatcher(config, PathRules(config, default_site="here"), sink)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "traps" / "north" / "cam01").mkdir(parents=True)
    return tmp_path / "traps"


@pytest.fixture(params=["native", "polling"])
def running(
    request: pytest.FixtureRequest, root: Path
) -> Iterator[tuple[FolderWatcher, Collected]]:
    sink = Collected()
    watcher = make_watcher(root, sink, observer=request.param, polling_interval_s=0.2)
    watcher.start()
    time.sleep(0.3)  # let the observer set up its watches
    yield watcher, sink
    watcher.stop()


def test_a_written_file_is_handed_on_once_with_site_and_camera(
    running: tuple[FolderWatcher, Collected], root: Path
) -> None:
    _, sink = running
    (root / "north" / "cam01" / "a.jpg").write_bytes(b"x" * 1000)
    got = sink.next()
    assert (got.relative, got.site, got.camera) == ("north/cam01/a.jpg", "north", "cam01")
    assert sink.quiet(1.2) == []


def test_a_slow_writer_is_handed_on_only_when_done(
    running: tuple[FolderWatcher, Collected], root: Path
) -> None:
    _, sink = running
    target = root / "north" / "cam01" / "slow.jpg"
    with target.open("wb") as f:  # one open file, written over ~1.5 s
        for _ in range(6):
            f.write(b"y" * 100)
            f.flush()
            time.sleep(0.25)
            assert sink.q.empty(), "handed on while still being written"
    got = sink.next()
    assert got.relative == "north/cam01/slow.jpg" and got.path.stat().st_size == 600


def test_temp_names_are_ignored_and_the_rename_counts(
    running: tuple[FolderWatcher, Collected], root: Path
) -> None:
    _, sink = running
    folder = root / "north" / "cam01"
    for name in (".b.jpg.XyZ12", "b.jpg.part", "b.jpg.tmp", "notes.txt"):
        (folder / name).write_bytes(b"z" * 100)
    (folder / "dir.jpg").mkdir()
    os.rename(folder / ".b.jpg.XyZ12", folder / "b.jpg")  # rsync's way
    assert sink.next().relative == "north/cam01/b.jpg"
    assert sink.quiet(1.2) == []


def test_backlog_is_handed_on_at_start(root: Path) -> None:
    old = root / "north" / "cam01" / "old.jpg"
    old.write_bytes(b"o" * 10)
    os.utime(old, (time.time() - 60, time.time() - 60))
    sink = Collected()
    watcher = make_watcher(root, sink)
    watcher.start()
    try:
        assert sink.next().relative == "north/cam01/old.jpg"
    finally:
        watcher.stop()


def test_a_folder_moved_in_is_scanned(
    running: tuple[FolderWatcher, Collected], root: Path, tmp_path: Path
) -> None:
    _, sink = running
    outside = tmp_path / "card"
    outside.mkdir()
    for i in range(3):
        (outside / f"{i}.jpg").write_bytes(b"m" * 10)
        os.utime(outside / f"{i}.jpg", (time.time() - 60, time.time() - 60))
    os.rename(outside, root / "north" / "cam02")
    got = {sink.next().relative for _ in range(3)}
    assert got == {f"north/cam02/{i}.jpg" for i in range(3)}


def test_camera_without_site_and_odd_names(tmp_path: Path) -> None:
    cfg = WatchConfig(roots=[tmp_path])
    rules = PathRules(cfg, default_site="here")
    src = rules.source(tmp_path / "cam7" / "x.jpg", tmp_path)
    assert (src.site, src.camera) == ("here", "cam7")
    odd = Path(os.fsdecode(b"cam7/\xff\xfe.jpg"))
    assert rules.source(tmp_path / odd, tmp_path).relative == "cam7/\\xff\\xfe.jpg"


def test_read_chip_refuses_symlinks_out_of_the_root_and_large_files(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "cam").mkdir(parents=True)
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"s" * 10)
    (root / "cam" / "link.jpg").symlink_to(secret)
    rules = PathRules(WatchConfig(roots=[root]), "here")
    with pytest.raises(ChipRejected) as e:
        read_chip(rules.source(root / "cam" / "link.jpg", root), 1000)
    assert e.value.reason == "outside_root"
    big = root / "cam" / "big.jpg"
    big.write_bytes(b"b" * 2000)
    with pytest.raises(ChipRejected) as e:
        read_chip(rules.source(big, root), 1000)
    assert e.value.reason == "too_large"
    assert str(e.value) == (
        "cam/big.jpg: 2000 bytes is more than watch.max_file_bytes (1000); "
        "raise the limit if such files are real chips"
    )
    inside = root / "cam" / "inside.jpg"
    inside.symlink_to(big)
    assert len(read_chip(rules.source(inside, root), 5000)) == 2000


def test_an_inotify_queue_overflow_is_recovered_within_seconds(root: Path) -> None:
    """The kernel drops events beyond fs.inotify.max_queued_events (here 32) and says so;
    the watcher rescans at once instead of at its periodic rescan (here 10 minutes)."""
    sink = Collected()
    watcher = make_watcher(root, sink, stable_after_s=0.3, rescan_interval_s=600)
    with small_inotify_queue(32) as restore:
        watcher.start()  # its inotify instance takes the small limit
        restore()
    try:
        folder = root / "north" / "cam01"
        names = [f"burst_{i:04d}.jpg" for i in range(1500)]
        for name in names:  # ~4 events each, written faster than they are read
            (folder / f".{name}.part").write_bytes(b"c" * 64)
            os.rename(folder / f".{name}.part", folder / name)
        written = time.monotonic()
        expected = {f"north/cam01/{name}" for name in names}
        seen: set[str] = set()
        while not expected <= seen and time.monotonic() - written < 15:
            try:
                seen.add(sink.next(timeout=0.5).relative)
            except queue.Empty:
                continue
        late = time.monotonic() - written
    finally:
        watcher.stop()
    assert watcher.overflows >= 1, "the burst did not overflow the queue: the test proves nothing"
    assert expected <= seen, f"{len(expected - seen)} files never handed on"
    print(
        f"\n{watcher.overflows} overflow(s), all 1500 files handed on {late:.1f} s after the burst"
    )
    assert late < 10.0
