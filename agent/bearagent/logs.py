"""Logging to stderr, in the form journald and a terminal each read best."""

from __future__ import annotations

import logging
import os
import sys

#: Libraries whose DEBUG chatter drowns the agent's own.
_NOISY = ("watchdog", "PIL", "urllib3", "matplotlib")
#: sd-daemon priorities of the logging levels.
_PRIORITY = {"DEBUG": 7, "INFO": 6, "WARNING": 4, "ERROR": 3, "CRITICAL": 2}


def configure_logging(level: str) -> None:
    """One line per record on stderr. Under systemd (``JOURNAL_STREAM`` set) no
    timestamp, since journald adds its own, and the priority prefix it understands."""
    under_journald = bool(os.environ.get("JOURNAL_STREAM"))
    fmt = (
        "%(levelname)s %(name)s: %(message)s"
        if under_journald
        else "%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JournalFormatter(fmt) if under_journald else logging.Formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _NOISY:
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))


class _JournalFormatter(logging.Formatter):
    """Prefixes ``<N>`` (sd-daemon priority) so journald files each line at its level."""

    def format(self, record: logging.LogRecord) -> str:
        return f"<{_PRIORITY.get(record.levelname, 6)}>{super().format(record)}"
