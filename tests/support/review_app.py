"""The review page under test: in-process (Starlette's TestClient) and over real HTTP
(uvicorn on a free loopback port, in a thread), logged in or not."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.testclient import TestClient

from bearagent.config import AgentConfig
from bearagent.review.passwords import hash_password
from bearagent.review.server import uvicorn_settings
from bearagent.review.web import create_app
from support.broker import free_port

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def password_hash() -> str:
    """The test password's argon2 hash (made once: argon2 is slow on purpose)."""
    global _HASH
    if _HASH is None:
        _HASH = hash_password(PASSWORD)
    return _HASH


_HASH: str | None = None


def make_app(cfg: AgentConfig) -> Starlette:
    """The application on `cfg`, with the test password."""
    return create_app(cfg, password_hash())


def csrf_of(html: str) -> str:
    """The CSRF token in a page's forms."""
    found = _CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def log_in(client: TestClient, name: str = "Anna", password: str = PASSWORD) -> None:
    """Log `client` in through the login form."""
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login", data={"csrf": token, "name": name, "password": password, "next": "/queue"},
        follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 303, response.text


@contextmanager
def served(app: Starlette, cfg: AgentConfig) -> Iterator[str]:
    """`app` on a real uvicorn with the settings `bearagent review` uses for `cfg` (TLS,
    trusted proxies), on a free port of 127.0.0.1; yields its base URL."""
    port = free_port()
    settings = {**uvicorn_settings(cfg), "host": "127.0.0.1", "port": port}
    server = uvicorn.Server(uvicorn.Config(app, **settings))
    thread = threading.Thread(target=server.run, name="review-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    scheme = "https" if "ssl_certfile" in settings else "http"
    try:
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


def database_copy(source: Path, target: Path) -> Path:
    """Re-exported for the tests: a consistent copy of the agent's database."""
    from support.review_world import copy_database

    return copy_database(source, target)
