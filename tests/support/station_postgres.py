"""A real PostgreSQL server for the station tests, in a temporary folder on a free port.

Debian's ``postgresql`` package puts initdb and pg_ctl in /usr/lib/postgresql/<v>/bin.
PostgreSQL refuses to run as root, and CI runs as root: there the server runs as
the ``postgres`` user (``runuser -u postgres --``) on a folder it owns, outside
pytest's root-only tmp_path. Connections are trusted on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from support.broker import free_port


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries here, or no user to run them as."""


def find_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin with initdb, or initdb on $PATH."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1].parent
    on_path = shutil.which("initdb")
    return None if on_path is None else Path(on_path).parent


class Postgres:
    """One PostgreSQL server; `url(db)` names a database on it."""

    def __init__(self, bindir: Path, *, fsync: bool = False) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.fsync = fsync
        self._as: list[str] = []
        self.folder = Path(tempfile.mkdtemp(prefix="bearstation-pg-"))
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable("running as root and no 'postgres' user") from None
            os.chown(self.folder, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"

    def _run(self, tool: str, *args: str) -> None:
        result = subprocess.run(
            [*self._as, str(self.bindir / tool), *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise PostgresUnavailable(f"{tool} failed: {result.stdout}{result.stderr}{log}")

    def start(self) -> Postgres:
        """initdb, then start the server and wait until it accepts connections."""
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} "
            f"-c fsync={'on' if self.fsync else 'off'} -c max_connections=50"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")
        return self

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its folder."""
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def create_database(self, name: str) -> str:
        """Create database `name`; its SQLAlchemy URL."""
        import psycopg  # the station extra; imported here so conftest loads without it

        with psycopg.connect(self._dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of `database` on this server."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _dsn(self, database: str) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"
