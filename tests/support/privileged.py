"""Tests that need root: a skip on a developer machine, a failure in CI (``CI`` set).

CI runs as root, so a privileged test that cannot set itself up there is a broken
CI machine, not a reason to pass quietly (as a missing broker is, see conftest).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import pytest

QUEUE_LIMIT = Path("/proc/sys/fs/inotify/max_queued_events")


def unavailable(message: str) -> NoReturn:
    """Skip with `message`, or fail with it when running in CI."""
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI runs as root and must be able to run this test")
    pytest.skip(message)


@contextmanager
def size_capped_tmpfs(mount: Path, size: str = "3m") -> Iterator[Path]:
    """A tmpfs of `size` mounted on `mount` (created): a disk that really fills up."""
    mount.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        unavailable(f"cannot mount a size-capped tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


@contextmanager
def small_inotify_queue(limit: int = 32) -> Iterator[Callable[[], None]]:
    """Lower ``fs.inotify.max_queued_events`` for the inotify instances created meanwhile.

    The limit is copied into each instance when it is created, so this yields a
    `restore()` to call right after the observer under test has started: other
    programs on the machine only see the small limit for that moment.
    """
    try:
        original = QUEUE_LIMIT.read_text().strip()
        QUEUE_LIMIT.write_text(f"{limit}\n")
    except OSError as e:
        unavailable(f"cannot lower {QUEUE_LIMIT} here ({e})")

    def restore() -> None:
        QUEUE_LIMIT.write_text(original + "\n")

    try:
        yield restore
    finally:
        restore()
