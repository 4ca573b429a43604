"""A real, private Mosquitto broker on a free loopback port: stoppable, restartable.

Used by the demo, the test suite and the benchmarks. The broker runs from a
config written into its own folder, with persistence there too, so a restart on
the same port behaves like a field broker coming back after an outage
(persistent sessions and queued QoS 1 messages survive it). Optional: TLS, a
password, and an ACL that `set_acl` changes on the running broker (SIGHUP makes
Mosquitto reload it).
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bearagent.errors import BearIdError

HOST = "127.0.0.1"


class BrokerError(BearIdError):
    """The broker could not be started or stopped."""


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for a TLS listener: the CA certificate clients trust, the server's pair."""

    ca_cert: Path
    server_cert: Path
    server_key: Path


def find_mosquitto() -> str | None:
    """Path of the mosquitto binary (Debian puts it in /usr/sbin), or None."""
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])
    return shutil.which("mosquitto", path=search)


def require_mosquitto() -> str:
    """The mosquitto binary, or a `BrokerError` that says how to install it."""
    binary = find_mosquitto()
    if binary is None:
        raise BrokerError(
            "mosquitto is not installed: run tools/setup.sh (or apt-get install mosquitto)"
        )
    return binary


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Credentials:
    """A username and password the broker accepts."""

    username: str
    password: str


class Mosquitto:
    """One mosquitto process on `port`, with its config, log and persistence in `folder`."""

    def __init__(
        self,
        binary: str,
        folder: Path,
        *,
        tls: TlsFiles | None = None,
        credentials: Credentials | None = None,
        acl: str | None = None,
        verbose: bool = True,
        extra: str = "",
    ) -> None:
        """`acl`: the text of a Mosquitto ACL file (``topic readwrite bearid/#`` lines);
        None lets every client publish and subscribe everywhere. `verbose`: log every
        packet (for failure messages); benchmarks turn it off. `extra`: more lines of
        configuration (a bridge to another broker, queue limits)."""
        self.verbose = verbose
        self.binary = binary
        self.folder = folder
        self.tls = tls
        self.credentials = credentials
        self.acl_path: Path | None = None if acl is None else folder / "acl"
        self.extra = extra
        self.host = HOST
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)
        self.config_path = folder / "mosquitto.conf"
        self.log_path = folder / "mosquitto.log"
        if acl is not None:
            self._write_acl(acl)
        self.config_path.write_text(self._config(), encoding="utf-8")

    def _config(self) -> str:
        lines = [
            f"listener {self.port} {HOST}",
            "persistence true",
            f"persistence_location {self.folder}/",
            f"log_dest file {self.log_path}",
            *(["log_type all"] if self.verbose else ["log_type error", "log_type warning"]),
            "log_type notice",
            "log_type information",
            # As root, mosquitto drops to user 'mosquitto', which cannot read tmp_path.
            f"user {getpass.getuser()}",
        ]
        if self.credentials is None:
            lines.append("allow_anonymous true")
        else:
            password_file = self.folder / "passwords"
            subprocess.run(
                [
                    _sibling(self.binary, "mosquitto_passwd"),
                    "-c",
                    "-b",
                    str(password_file),
                    self.credentials.username,
                    self.credentials.password,
                ],
                check=True,
                capture_output=True,
            )
            password_file.chmod(0o600)
            lines += ["allow_anonymous false", f"password_file {password_file}"]
        if self.acl_path is not None:
            lines.append(f"acl_file {self.acl_path}")
        if self.tls is not None:
            lines += [
                f"cafile {self.tls.ca_cert}",
                f"certfile {self.tls.server_cert}",
                f"keyfile {self.tls.server_key}",
                "tls_version tlsv1.2",
            ]
        if self.extra:
            lines.append(self.extra.strip())
        return "\n".join(lines) + "\n"

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        """Start the broker and wait until it accepts TCP connections."""
        if self.running:
            return
        self._process = subprocess.Popen(
            [self.binary, "-c", str(self.config_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                err = (
                    self._process.stderr.read().decode(errors="replace")
                    if self._process.stderr
                    else ""
                )
                raise BrokerError(
                    f"mosquitto exited with {self._process.returncode}: {err}{self.log()}"
                )
            try:
                with socket.create_connection((HOST, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerError(f"mosquitto did not accept connections on {self.port} in {timeout}s")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker (SIGTERM: it saves its persistence file) and wait for it."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
        if process.stderr:
            process.stderr.close()

    def kill(self) -> None:
        """Stop the broker abruptly (SIGKILL), as a power cut would."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def restart(self) -> None:
        """Stop and start again on the same port."""
        self.stop()
        self.start()

    def set_acl(self, text: str) -> None:
        """Replace the ACL and make the running broker apply it (SIGHUP), without a restart."""
        if self.acl_path is None:
            raise BrokerError("this broker was started without an ACL: pass acl= to Mosquitto()")
        self._write_acl(text)
        self.reload()

    def reload(self) -> None:
        """SIGHUP: Mosquitto reloads its ACL and password files (connections stay up)."""
        if self._process is None or self._process.poll() is not None:
            raise BrokerError("mosquitto is not running: start() it first")
        before = self.log().count("Reloading config")
        self._process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10.0
        while self.log().count("Reloading config") == before:  # logged once it has reloaded
            if time.monotonic() > deadline:
                raise BrokerError(f"mosquitto did not reload its config in 10 s:\n{self.log()}")
            time.sleep(0.02)

    def _write_acl(self, text: str) -> None:
        assert self.acl_path is not None
        self.acl_path.write_text(text, encoding="utf-8")
        self.acl_path.chmod(0o600)  # mosquitto 2.1 warns about world-readable ACL files

    def log(self) -> str:
        """The broker's log so far (for failure messages)."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""


@contextmanager
def running_broker(
    folder: Path,
    *,
    tls: TlsFiles | None = None,
    credentials: Credentials | None = None,
    acl: str | None = None,
    verbose: bool = True,
) -> Iterator[Mosquitto]:
    """A started `Mosquitto` in `folder` (options as for `Mosquitto`), stopped on exit."""
    broker = Mosquitto(
        require_mosquitto(), folder, tls=tls, credentials=credentials, acl=acl, verbose=verbose
    )
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def _sibling(binary: str, name: str) -> str:
    """A tool installed with mosquitto (mosquitto_passwd sits in /usr/bin on Debian)."""
    search = os.pathsep.join([os.path.dirname(binary), os.environ.get("PATH", ""), "/usr/bin"])
    found = shutil.which(name, path=search)
    if found is None:
        raise BrokerError(f"{name} not found (it ships with the mosquitto package)")
    return found
