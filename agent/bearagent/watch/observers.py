"""The watchdog observer for the roots: inotify that reports queue overflows, or polling.

When more events arrive than the kernel's inotify queue holds
(``fs.inotify.max_queued_events``), the kernel drops them and says so once
(``IN_Q_OVERFLOW``). watchdog (7.1 and later) rebuilds its watches then, but tells
no event handler: the files whose events were dropped would wait for the next
periodic rescan. The emitter here also calls `on_overflow`, so the watcher
rescans at once. Network shares use the polling observer, which cannot overflow.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import DEFAULT_OBSERVER_TIMEOUT, BaseObserver
from watchdog.observers.polling import PollingObserver

log = logging.getLogger(__name__)

Overflow = Callable[[], None]
ObserverT = TypeVar("ObserverT", bound=BaseObserver)

try:  # inotify: Linux only
    from watchdog.observers.inotify import InotifyEmitter
    from watchdog.observers.inotify_c import InotifyFD
except (ImportError, OSError):  # pragma: no cover - not Linux
    InotifyEmitter = None  # type: ignore[assignment,misc]


def make_observer(
    kind: str,
    roots: list[tuple[str, FileSystemEventHandler]],
    *,
    polling_interval_s: float,
    on_overflow: Overflow,
) -> BaseObserver:
    """An observer with `roots` (path, handler) scheduled recursively.

    `kind` ``native``: inotify on Linux (reporting overflows), falling back to polling
    with a warning when a root cannot be watched natively (inotify watch limits, an
    unsupported mount); ``polling``: stat every `polling_interval_s` seconds.
    """
    if kind == "polling":
        return _scheduled(PollingObserver(timeout=polling_interval_s), roots)
    observer: BaseObserver = (
        Observer() if InotifyEmitter is None else _OverflowReportingObserver(on_overflow)
    )
    for path, handler in roots:
        try:
            observer.schedule(handler, path, recursive=True)
        except OSError as e:
            log.warning("cannot watch %s natively (%s): polling it instead", path, e)
            if InotifyEmitter is not None and isinstance(observer, _OverflowReportingObserver):
                observer.discard()
            return _scheduled(PollingObserver(timeout=polling_interval_s), roots)
    return observer


def _scheduled(observer: ObserverT, roots: list[tuple[str, FileSystemEventHandler]]) -> ObserverT:
    for path, handler in roots:
        observer.schedule(handler, path, recursive=True)
    return observer


if InotifyEmitter is not None:

    class _OverflowReportingEmitter(InotifyEmitter):
        """watchdog's inotify emitter, which also calls `on_overflow` after an overflow."""

        def __init__(self, *args: Any, on_overflow: Overflow, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._on_overflow = on_overflow

        def on_thread_start(self) -> None:
            super().on_thread_start()
            group = getattr(self, "_inotify", None)  # the watch group super() just built
            rebuild = getattr(group, "on_queue_overflow", None)
            if group is None or rebuild is None:
                log.warning(
                    "this watchdog release does not report inotify queue overflows (7.1 does): "
                    "events the kernel drops are caught by the rescan every "
                    "watch.rescan_interval_s"
                )
                return

            def overflowed() -> None:
                rebuild()  # watchdog re-adds its watches first
                self._on_overflow()

            group.on_queue_overflow = overflowed

    class _OverflowReportingObserver(BaseObserver):
        """`watchdog.observers.inotify.InotifyObserver` with the emitter above."""

        def __init__(self, on_overflow: Overflow) -> None:
            self._inotify_fd = InotifyFD()
            self._inotify_fd.start()
            super().__init__(
                _OverflowReportingEmitter,
                timeout=DEFAULT_OBSERVER_TIMEOUT,
                inotify_fd=self._inotify_fd,
                on_overflow=on_overflow,
            )

        def on_thread_stop(self) -> None:
            super().on_thread_stop()
            self.discard()

        def discard(self) -> None:
            """Close the inotify instance (after a stop, or instead of a start)."""
            self._inotify_fd.stop()
            self._inotify_fd.join()
