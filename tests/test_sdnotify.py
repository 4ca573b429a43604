"""bearagent.sdnotify against a real AF_UNIX datagram socket, the way systemd listens."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bearagent import sdnotify


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, dict[str, str]]]:
    """A datagram socket standing in for systemd, and the environment that names it."""
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5)
    try:
        yield sock, {"NOTIFY_SOCKET": str(path)}
    finally:
        sock.close()


def received(sock: socket.socket) -> str:
    return sock.recv(4096).decode()


def test_each_helper_sends_its_message(listener: tuple[socket.socket, dict[str, str]]) -> None:
    sock, env = listener
    assert sdnotify.ready(env)
    assert received(sock) == "READY=1"
    assert sdnotify.watchdog_ping(env)
    assert received(sock) == "WATCHDOG=1"
    assert sdnotify.status("embedding 8 chips", env)
    assert received(sock) == "STATUS=embedding 8 chips"
    assert sdnotify.stopping(env)
    assert received(sock) == "STOPPING=1"
    assert sdnotify.extend_timeout(90.5, env)
    assert received(sock) == "EXTEND_TIMEOUT_USEC=90500000"
    assert sdnotify.notify("READY=1\nSTATUS=up", env)
    assert received(sock) == "READY=1\nSTATUS=up"


def test_status_is_kept_on_one_line(listener: tuple[socket.socket, dict[str, str]]) -> None:
    """A newline would start a new assignment that systemd would try to interpret."""
    sock, env = listener
    assert sdnotify.status("broker down\nREADY=1", env)
    assert received(sock) == "STATUS=broker down READY=1"


def test_reads_notify_socket_from_the_process_environment(
    listener: tuple[socket.socket, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    sock, env = listener
    monkeypatch.setenv("NOTIFY_SOCKET", env["NOTIFY_SOCKET"])
    assert sdnotify.ready()
    assert received(sock) == "READY=1"


def test_abstract_namespace_socket() -> None:
    name = f"bearid-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(5)
        assert sdnotify.watchdog_ping({"NOTIFY_SOCKET": f"@{name}"})
        assert received(sock) == "WATCHDOG=1"


def test_no_ops_outside_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sdnotify.ready() is False
    assert sdnotify.watchdog_ping() is False
    assert sdnotify.stopping() is False
    assert sdnotify.status("idle") is False
    assert sdnotify.extend_timeout(30) is False
    assert sdnotify.notify("READY=1", {"NOTIFY_SOCKET": ""}) is False


def test_unusable_sockets_are_ignored(tmp_path: Path) -> None:
    """A stale path, a relative name or a vsock address never raises into the agent."""
    assert sdnotify.ready({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")}) is False
    assert sdnotify.ready({"NOTIFY_SOCKET": "relative.sock"}) is False
    assert sdnotify.ready({"NOTIFY_SOCKET": "vsock:2:1234"}) is False
    regular_file = tmp_path / "not-a-socket"
    regular_file.write_text("x")
    assert sdnotify.ready({"NOTIFY_SOCKET": str(regular_file)}) is False


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"WATCHDOG_USEC": "60000000"}, 60.0),
        ({"WATCHDOG_USEC": "500000", "WATCHDOG_PID": str(os.getpid())}, 0.5),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "-5"}, None),
        ({"WATCHDOG_USEC": "sixty"}, None),
        ({"WATCHDOG_USEC": "\u00b2"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval(env: dict[str, str], expected: float | None) -> None:
    assert sdnotify.watchdog_interval_s(env) == expected


def test_watchdog_interval_from_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert sdnotify.watchdog_interval_s() == 30.0
    monkeypatch.delenv("WATCHDOG_USEC")
    assert sdnotify.watchdog_interval_s() is None


def test_pinger_pings_at_half_the_period(listener: tuple[socket.socket, dict[str, str]]) -> None:
    sock, env = listener
    now = [100.0]
    pinger = sdnotify.WatchdogPinger({**env, "WATCHDOG_USEC": "10000000"}, clock=lambda: now[0])
    assert pinger.interval_s == 10.0
    sent = []
    for _ in range(30):  # 15 s of a loop waking every 0.5 s
        sent.append(pinger.tick())
        now[0] += 0.5
    assert [i for i, ping in enumerate(sent) if ping] == [0, 10, 20]
    assert [received(sock) for _ in range(3)] == ["WATCHDOG=1"] * 3


def test_pinger_is_idle_without_a_watchdog(listener: tuple[socket.socket, dict[str, str]]) -> None:
    sock, env = listener
    pinger = sdnotify.WatchdogPinger(env)  # a notify socket, but no WATCHDOG_USEC
    assert pinger.interval_s is None
    assert not pinger.tick()
    sock.settimeout(0.1)
    with pytest.raises(TimeoutError):
        sock.recv(4096)
