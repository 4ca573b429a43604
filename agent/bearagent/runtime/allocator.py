"""The C allocator's settings for a long-running agent (glibc only).

The intake, embed and record threads each get a glibc malloc arena by default, and
freed batch buffers (decoded chips, input tensors, embeddings) stay in them as
fragmented heap that the system never gets back. Two arenas and an mmap threshold of
128 KiB keep the peak resident set near what the agent actually holds.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

log = logging.getLogger(__name__)

# mallopt(3) parameter numbers, from glibc's <malloc.h>.
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8

ARENAS = 2
MMAP_THRESHOLD = 128 * 1024


def compact_allocator() -> list[str]:
    """Apply the settings where glibc is the allocator; the ones applied, for the log.

    Call it before any worker thread starts (arenas are created per thread). A
    setting the environment already chooses (MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_)
    is left to it.
    """
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return []
    try:
        libc = ctypes.CDLL(libc_name)
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 (present only in glibc)
    except (OSError, AttributeError):
        return []
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    applied = []
    for env, param, value in (
        ("MALLOC_ARENA_MAX", _M_ARENA_MAX, ARENAS),
        ("MALLOC_MMAP_THRESHOLD_", _M_MMAP_THRESHOLD, MMAP_THRESHOLD),
    ):
        if env in os.environ:
            continue
        if mallopt(param, value) == 1:
            applied.append(f"{env.rstrip('_').lower()}={value}")
        else:
            log.debug("mallopt(%d, %d) refused", param, value)
    return applied
