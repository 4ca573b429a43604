"""The reorder window and the backlog's capture order (bearagent.pipeline.reorder, backlog)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from bearagent.chips import CaptureTime, FileNamePattern
from bearagent.ledger import FileIdentity, Ledger
from bearagent.pipeline.backlog import BacklogOrder
from bearagent.pipeline.intake import Arrival, Dating, Decoded
from bearagent.pipeline.reorder import CaptureOrderWindow
from bearagent.pipeline.store import migrate_all
from bearagent.store import open_database
from bearagent.watch import ChipSource, FolderWatcher, PathRules, WatchConfig
from beartrain.synthetic import encode_jpeg

T0 = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def decoded(
    camera: str, seconds: float, name: str, sha: str | None = None, in_order: bool = False
) -> Decoded:
    src = ChipSource(Path("/traps") / name, Path("/traps"), name, "north", camera)
    ident = FileIdentity("/traps", name, 1, 1, sha or name)
    when = T0 + timedelta(seconds=seconds)
    arrival = Arrival(src, 0.0, in_order=in_order)
    return Decoded(arrival, ident, np.zeros((2, 2, 3), np.uint8), CaptureTime(when, "exif"))


def names(held: list) -> list[str]:  # type: ignore[type-arg]
    return [h.decoded.arrival.source.relative for h in held]


def test_chips_wait_the_window_then_go_on_in_capture_order_per_camera() -> None:
    clock = Clock()
    window = CaptureOrderWindow(1.0, clock)
    window.add([decoded("cam1", 30, "c"), decoded("cam1", 10, "a")], np.zeros((2, 4)))
    assert window.due() == [] and len(window) == 2
    assert window.next_due_in() == 1.0
    clock.now += 0.5
    window.add([decoded("cam1", 20, "b"), decoded("cam1", 40, "d")], np.zeros((2, 4)))
    clock.now += 0.5  # the first two waited their second: they go, with 'b' captured before 'c'
    assert names(window.due()) == ["a", "b", "c"]
    assert len(window) == 1  # 'd' was captured after them and waits on
    clock.now += 0.5
    assert names(window.due()) == ["d"] and len(window) == 0 and window.next_due_in() is None


def test_cameras_do_not_hold_each_other_back() -> None:
    clock = Clock()
    window = CaptureOrderWindow(1.0, clock)
    window.add([decoded("cam1", 50, "x")], np.zeros((1, 4)))
    clock.now += 0.6
    window.add([decoded("cam2", 10, "y")], np.zeros((1, 4)))
    clock.now += 0.5
    assert names(window.due()) == ["x"]  # cam2's earlier chip has its own wait
    assert names(window.drain()) == ["y"]


def test_a_file_handed_on_twice_waits_once_and_a_copy_is_a_duplicate() -> None:
    window = CaptureOrderWindow(0.0, Clock())
    copies = window.add(
        [
            decoded("cam1", 1, "a", "s1"),
            decoded("cam1", 1, "a", "s1"),
            decoded("cam1", 2, "b", "s1"),
        ],
        np.zeros((3, 4)),
    )
    assert names(window.due()) == ["a"]
    assert [c.arrival.source.relative for c in copies] == ["b"]


def test_a_backlog_chip_does_not_wait_and_takes_the_earlier_ones_along() -> None:
    clock = Clock()
    window = CaptureOrderWindow(5.0, clock)
    window.add([decoded("cam1", 10, "live"), decoded("cam1", 90, "later")], np.zeros((2, 4)))
    window.add([decoded("cam1", 20, "scan", in_order=True)], np.zeros((1, 4)))
    assert names(window.due()) == ["live", "scan"]  # 'later' was captured after: it waits
    clock.now += 5
    assert names(window.due()) == ["later"]


def test_no_window_passes_chips_straight_on() -> None:
    window = CaptureOrderWindow(0.0, Clock())
    window.add([decoded("cam1", 5, "a")], np.zeros((1, 4)))
    assert names(window.due()) == ["a"]


def test_a_backlog_goes_on_in_capture_order_without_what_the_ledger_holds(tmp_path: Path) -> None:
    """A card copied while the agent was stopped: counter names, EXIF times in another order."""
    traps = tmp_path / "traps"
    folder = traps / "north" / "cam01"
    folder.mkdir(parents=True)
    chip = np.full((16, 16, 3), 128, np.uint8)
    hours = {"IMG_0003.JPG": 6, "IMG_0001.JPG": 10, "IMG_0002.JPG": 8, "IMG_0004.JPG": 7}
    for name, hour in hours.items():
        (folder / name).write_bytes(encode_jpeg(chip, T0.replace(hour=hour)))
        os.utime(folder / name, (1e9, 1e9))  # old enough: complete
    database = tmp_path / "agent.db"
    migrate_all(open_database(database))
    ledger = Ledger(open_database(database))
    seen = folder / "IMG_0004.JPG"
    st = seen.stat()
    ledger.record(FileIdentity(str(traps), "north/cam01/IMG_0004.JPG", st.st_size,
                               st.st_mtime_ns, "x"), "processed")  # fmt: skip
    ledger.db.conn.commit()
    got: list[str] = []
    cfg = WatchConfig(roots=[traps], stable_after_s=0.1)
    order = BacklogOrder(
        Dating(FileNamePattern(timezone=UTC), UTC), lambda: Ledger(open_database(database))
    )
    watcher = FolderWatcher(cfg, PathRules(cfg, "site"), lambda s: got.append(s.relative), order)
    watcher.scan_all()
    assert got == [f"north/cam01/{n}" for n in ("IMG_0003.JPG", "IMG_0002.JPG", "IMG_0001.JPG")]
