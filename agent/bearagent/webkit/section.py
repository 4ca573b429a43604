"""The configuration section every review app shares: where it listens, its password,
TLS, sessions and login throttling, and the queue's page (the box's ``[review]`` and the
station's ``[desk]`` add their own keys and their own ``listen`` and ``password_file``)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Self

from pydantic import Field, field_validator, model_validator

from bearagent.configbase import Section
from bearagent.webkit.listen import check_web_settings, parse_listen


class WebSection(Section):
    """The web settings of a review app; a subclass names itself (``WHAT``, ``SECTION``)
    for the messages and gives ``listen`` and ``password_file`` their defaults."""

    WHAT: ClassVar[str] = "the review app"
    SECTION: ClassVar[str] = "web"

    listen: str = Field(default="127.0.0.1:8090", description="HOST:PORT the app listens on.")
    password_file: Path | None = Field(
        default=None, description="File holding the password's argon2 hash."
    )
    tls_cert: Path | None = Field(
        default=None, description="TLS certificate (PEM) to serve HTTPS directly; with tls_key."
    )
    tls_key: Path | None = Field(default=None, description="Private key (PEM) of tls_cert.")
    allow_plain_http: bool = Field(
        default=False,
        description="Allow listening on a non-loopback address without TLS (a trusted network, "
        "or a TLS reverse proxy on another host). Otherwise refused: the password would cross "
        "the network in clear.",
    )
    secure_cookie: bool | None = Field(
        default=None,
        description="Mark the session cookie Secure (sent over HTTPS only). Default: when "
        "tls_cert is set. Set true behind a reverse proxy that terminates TLS.",
    )
    forwarded_allow_ips: list[str] = Field(
        default_factory=list,
        description="Addresses of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto "
        "headers are trusted (the client address that login throttling counts). Empty: none, "
        "the connecting address counts.",
    )
    session_hours: float = Field(
        default=12.0, gt=0, le=24 * 30, description="A login lasts this long, then ask again."
    )
    login_free_attempts: int = Field(
        default=5,
        ge=1,
        description="Wrong passwords from one address before each further attempt must wait.",
    )
    login_backoff_s: float = Field(
        default=2.0,
        gt=0,
        description="The first wait after login_free_attempts wrong passwords; it doubles with "
        "every further wrong password.",
    )
    login_backoff_max_s: float = Field(
        default=900.0, gt=0, description="The longest wait between login attempts."
    )
    page_size: int = Field(
        default=25, ge=1, le=200, description="Encounters per page of the queue."
    )
    candidate_references: int = Field(
        default=4,
        ge=1,
        le=20,
        description="Reference chips shown beside each candidate individual.",
    )

    @field_validator("listen")
    @classmethod
    def _valid_listen(cls, v: str) -> str:
        parse_listen(v)
        return v.strip()

    @model_validator(mode="after")
    def _web_rules(self) -> Self:
        check_web_settings(self, self.WHAT, self.SECTION)
        return self

    @property
    def tls(self) -> bool:
        """Whether the app is served over HTTPS directly."""
        return self.tls_cert is not None

    @property
    def cookie_secure(self) -> bool:
        """Whether the session cookie carries the Secure flag."""
        return self.tls if self.secure_cookie is None else self.secure_cookie
