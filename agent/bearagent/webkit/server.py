"""Serving a review app with uvicorn: TLS when configured, proxy headers trusted only
from the configured proxies, a clean exit on SIGTERM."""

from __future__ import annotations

import logging
from types import FrameType
from typing import Any

from starlette.applications import Starlette

from bearagent.webkit.errors import ExtraMissing
from bearagent.webkit.listen import WebSettings, is_loopback, parse_listen

log = logging.getLogger(__name__)


def uvicorn_settings(settings: WebSettings) -> dict[str, Any]:
    """The keyword arguments of `uvicorn.Config` for `settings` (without the app)."""
    host, port = parse_listen(settings.listen)
    out: dict[str, Any] = {
        "host": host,
        "port": port,
        "proxy_headers": bool(settings.forwarded_allow_ips),
        "forwarded_allow_ips": list(settings.forwarded_allow_ips) or None,
        "server_header": False,
        "date_header": True,
        "log_config": None,  # the program's own logging (journald or terminal)
        "timeout_graceful_shutdown": 10,
    }
    if settings.tls_cert is not None:
        out["ssl_certfile"] = str(settings.tls_cert)
        out["ssl_keyfile"] = str(settings.tls_key)
    return out


def serve_app(app: Starlette, settings: WebSettings, what: str, detail: str = "") -> None:
    """Serve `app` until SIGINT/SIGTERM (`what` names it in the log, e.g. "review page";
    `detail` follows the address, e.g. "(database x.db)")."""
    try:
        import uvicorn
    except ImportError as e:
        raise ExtraMissing(
            f"the {what} needs the 'review' extra ({e.name} is missing): "
            "pip install 'bearid[review]'"
        ) from e
    config = uvicorn_settings(settings)
    scheme = "https" if settings.tls else "http"
    shown = f"[{config['host']}]" if ":" in config["host"] else config["host"]
    log.info("%s on %s://%s:%d/ %s", what, scheme, shown, config["port"], detail)
    if not is_loopback(config["host"]) and not settings.tls:
        log.warning("serving without TLS on %s: only on a trusted network", settings.listen)
    server_type = _server_type(uvicorn.Server)
    server_type(uvicorn.Config(app, **config)).run()


def _server_type(base: type[Any]) -> type[Any]:
    """uvicorn's server, exiting 0 after a graceful stop on SIGTERM/SIGINT (uvicorn raises the
    signal again once stopped, so systemd and the demo would see a death by signal)."""

    class QuietServer(base):  # type: ignore[misc]
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            super().handle_exit(sig, frame)
            self._captured_signals.clear()

    return QuietServer
