"""The demo's last step with ``--review``: the review page on the demo's database, so a
newcomer sees the whole loop (the agent decided; now a person corrects)."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Callable
from pathlib import Path

from bearagent.config import AgentConfig
from bearagent.review.passwords import write_hash_file
from bearagent.review.server import check_ready, serve, url_of
from bearid_dev.demo.field import AGENT_ID
from bearid_dev.demo.options import DemoOptions

Say = Callable[[str], None]
#: The review page's usual port; another free one when it is taken.
PORT = 8090


def _port(preferred: int) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])


def review_setup(opts: DemoOptions, model: Path, port: int = PORT) -> tuple[AgentConfig, str]:
    """The review page's configuration on the demo's database and a one-time password
    (its hash written beside the database)."""
    password = secrets.token_urlsafe(9)
    hash_file = opts.workdir / "review-password"
    write_hash_file(hash_file, password)
    cfg = AgentConfig.model_validate(
        {
            "agent": {
                "id": AGENT_ID,
                "database": str(opts.workdir / "state" / "bearagent.db"),
                "timezone": "UTC",
            },
            "watch": {"roots": [str(opts.workdir / "traps")]},
            "runtime": {"model": str(model)},
            "review": {"listen": f"127.0.0.1:{_port(port)}", "password_file": str(hash_file)},
        }
    )
    return cfg, password


def serve_review(opts: DemoOptions, model: Path, say: Say) -> None:
    """Serve the review page until Ctrl-C, after saying where and with which password."""
    cfg, password = review_setup(opts, model)
    digest = check_ready(cfg)
    say("== review: the agent decided; now a person corrects")
    say(f"review page: {url_of(cfg)}  (log in with your name and the one-time password below)")
    say(f"password:    {password}")
    say("Ctrl-C stops it; the decisions stay in the demo's database and outbox")
    serve(cfg, password_hash=digest)
