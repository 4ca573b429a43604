"""A tiny systemd notify client: tell the service manager we are ready, alive, stopping.

With ``Type=notify`` systemd waits for ``READY=1`` before it counts the agent as
started, and with ``WatchdogSec=`` it restarts the agent when ``WATCHDOG=1`` stops
arriving. systemd names its socket in ``$NOTIFY_SOCKET`` (a path, or ``@name`` in
the abstract namespace) and the watchdog period in ``$WATCHDOG_USEC``. Outside
systemd the variables are absent and every call is a no-op that returns False, so
the agent runs unchanged from a terminal or a test.

A loop that comes round often calls `WatchdogPinger.tick`, which pings at half the
watchdog period, the rate ``sd_watchdog_enabled(3)`` recommends. Pure standard
library: one datagram per message.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping

NOTIFY_SOCKET_ENV = "NOTIFY_SOCKET"
WATCHDOG_USEC_ENV = "WATCHDOG_USEC"
WATCHDOG_PID_ENV = "WATCHDOG_PID"


def _address(value: str) -> str | bytes | None:
    """The socket address in ``$NOTIFY_SOCKET``: a path, or ``@name`` (abstract), else None."""
    if value.startswith("@"):
        # Linux abstract namespace: a leading NUL byte instead of '@'.
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    # vsock addresses (vsock:CID:PORT) are for VMs talking to their host, not for a unit.
    return None


def notify(state: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send `state` (e.g. ``"READY=1"``, newline-separated assignments) to systemd.

    Returns True when the message was sent, False when not running under systemd
    (no ``$NOTIFY_SOCKET``) or the socket is gone or refuses it: notification is
    best effort and never stops the agent.
    """
    env = os.environ if environ is None else environ
    address = _address(env.get(NOTIFY_SOCKET_ENV, ""))
    if address is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(state.encode(), address)
    except OSError:
        # The manager went away (or a stale variable from a parent): nothing to tell.
        return False
    return True


def ready(environ: Mapping[str, str] | None = None) -> bool:
    """Tell systemd that start-up is complete (``READY=1``): the unit becomes 'active'."""
    return notify("READY=1", environ)


def watchdog_ping(environ: Mapping[str, str] | None = None) -> bool:
    """Tell systemd the worker loop is alive (``WATCHDOG=1``)."""
    return notify("WATCHDOG=1", environ)


def stopping(environ: Mapping[str, str] | None = None) -> bool:
    """Tell systemd that a clean shutdown has begun (``STOPPING=1``)."""
    return notify("STOPPING=1", environ)


def status(text: str, environ: Mapping[str, str] | None = None) -> bool:
    """Show `text` (one line) as the unit's status in ``systemctl status bearagent``."""
    one_line = " ".join(text.split())
    return notify(f"STATUS={one_line}", environ)


def extend_timeout(seconds: float, environ: Mapping[str, str] | None = None) -> bool:
    """Ask for `seconds` more to finish starting or stopping (``EXTEND_TIMEOUT_USEC``),
    e.g. while a first TensorRT engine is built; repeat before it runs out."""
    return notify(f"EXTEND_TIMEOUT_USEC={max(0, round(seconds * 1_000_000))}", environ)


def watchdog_interval_s(environ: Mapping[str, str] | None = None) -> float | None:
    """The watchdog period in seconds if systemd expects pings from this process, else None.

    Follows ``sd_watchdog_enabled(3)``: ``$WATCHDOG_USEC`` must be a positive integer,
    and when ``$WATCHDOG_PID`` is set it must be this process's id (a child started by
    the agent inherits the variables but is not the one being watched).
    """
    env = os.environ if environ is None else environ
    usec = env.get(WATCHDOG_USEC_ENV, "")
    if not (usec.isascii() and usec.isdigit()) or int(usec) == 0:
        return None
    pid = env.get(WATCHDOG_PID_ENV)
    if pid is not None and pid != str(os.getpid()):
        return None
    return int(usec) / 1_000_000


class WatchdogPinger:
    """Sends ``WATCHDOG=1`` at half the watchdog period, however often `tick` is called.

    Call `tick` from the loop whose progress proves the agent healthy (every batch or
    idle wake-up); outside systemd, or without ``WatchdogSec=``, it does nothing.
    """

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._environ = environ
        self._clock = clock
        self.interval_s = watchdog_interval_s(environ)
        self._next_ping = float("-inf")

    def tick(self) -> bool:
        """Ping if half a period has passed since the last ping; True when one was sent."""
        if self.interval_s is None:
            return False
        now = self._clock()
        if now < self._next_ping:
            return False
        self._next_ping = now + self.interval_s / 2
        return watchdog_ping(self._environ)
