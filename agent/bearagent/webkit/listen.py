"""Where a review app listens, and the rules every app's web settings follow.

`WebSettings` is what the shared code reads of an app's configuration section (the
box's ``[review]``, the station's ``[desk]``); `check_web_settings` is the one set of
rules both sections' validators apply: TLS certificate and key together, no password
form in clear on the network unless allowed, a longest wait at least the first.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Protocol


class WebSettings(Protocol):
    """The web settings of a review app (a configuration section satisfies it)."""

    @property
    def listen(self) -> str:
        """HOST:PORT."""

    @property
    def tls_cert(self) -> Path | None:
        """TLS certificate (PEM), or None for plain HTTP."""

    @property
    def tls_key(self) -> Path | None:
        """Private key of tls_cert."""

    @property
    def allow_plain_http(self) -> bool:
        """Whether a non-loopback address without TLS is allowed."""

    @property
    def forwarded_allow_ips(self) -> list[str]:
        """Reverse proxies whose X-Forwarded-* headers are trusted."""

    @property
    def session_hours(self) -> float:
        """How long a login lasts."""

    @property
    def login_backoff_s(self) -> float:
        """The first wait after the free attempts."""

    @property
    def login_backoff_max_s(self) -> float:
        """The longest wait."""

    @property
    def tls(self) -> bool:
        """Whether the app is served over HTTPS directly."""

    @property
    def cookie_secure(self) -> bool:
        """Whether the session cookie carries the Secure flag."""


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8090`` for IPv6) as (host, port), or ValueError saying why."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"{value!r} is not HOST:PORT, e.g. 127.0.0.1:8090")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    number = int(port)
    if not 1 <= number <= 65535:
        raise ValueError(f"{value!r}: the port must be 1-65535")
    return host, number


def is_loopback(host: str) -> bool:
    """Whether `host` only reaches this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plain_http_refused(listen: str, what: str, section: str) -> str:
    """The message that refuses serving `what`'s password form in clear on the network
    (`section`: the configuration section, e.g. ``review``)."""
    return (
        f"refusing to serve {what} on {listen} without TLS: the password would cross "
        f"the network in clear. Set {section}.tls_cert and {section}.tls_key, listen on "
        f"127.0.0.1 behind a TLS reverse proxy, or set {section}.allow_plain_http = true on "
        "a trusted network"
    )


def check_web_settings(settings: WebSettings, what: str, section: str) -> None:
    """ValueError (with the words a person reads) when `settings` break a rule."""
    if (settings.tls_cert is None) != (settings.tls_key is None):
        raise ValueError(f"{section}.tls_cert and {section}.tls_key go together: set both")
    host, _ = parse_listen(settings.listen)
    if not is_loopback(host) and settings.tls_cert is None and not settings.allow_plain_http:
        raise ValueError(plain_http_refused(settings.listen, what, section))
    if settings.login_backoff_max_s < settings.login_backoff_s:
        raise ValueError(f"{section}.login_backoff_max_s is below {section}.login_backoff_s")


def url_of(settings: WebSettings) -> str:
    """The app's address as a person on this machine types it."""
    host, port = parse_listen(settings.listen)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"{'https' if settings.tls else 'http'}://{shown}:{port}/"
