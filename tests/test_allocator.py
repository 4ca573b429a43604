"""The agent's allocator settings: applied on glibc, left to the environment when it sets them."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="mallopt settings exist only in glibc"
)

PROBE = "import json; from bearagent.runtime.allocator import compact_allocator; " \
    "print(json.dumps(compact_allocator()))"  # fmt: skip


def applied(env: dict[str, str]) -> list[str]:
    """The settings a fresh interpreter applies (a subprocess: the suite's heap is untouched)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env={**clean, **env}, check=True, capture_output=True,
        text=True,
    )  # fmt: skip
    return list(json.loads(out.stdout))


def test_both_settings_applied_on_glibc() -> None:
    assert applied({}) == ["malloc_arena_max=2", "malloc_mmap_threshold=131072"]


def test_the_environment_wins() -> None:
    assert applied({"MALLOC_ARENA_MAX": "4"}) == ["malloc_mmap_threshold=131072"]
    assert applied({"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_ARENA_MAX": "1"}) == []
