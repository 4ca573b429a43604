"""The ``review`` section of the agent's configuration: the review page on the field box."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bearagent.webkit.listen import check_web_settings, is_loopback, parse_listen

__all__ = ["CREDENTIAL_NAME", "ReviewConfig", "is_loopback", "parse_listen"]

#: The credential name the systemd unit loads (LoadCredential=review-password:...).
CREDENTIAL_NAME = "review-password"


class ReviewConfig(BaseModel):
    """The review page (`bearagent review`): a person confirms, corrects or names bears."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    listen: str = Field(
        default="127.0.0.1:8090",
        description="HOST:PORT the review page listens on. The default reaches this box only: "
        "use an SSH tunnel, or a reverse proxy with TLS (docs/review.md).",
    )
    password_file: Path | None = Field(
        default=None,
        description="File holding the password's argon2 hash (`bearagent review passwd FILE` "
        "writes it). A relative name is looked up in $CREDENTIALS_DIRECTORY. Default: "
        "$CREDENTIALS_DIRECTORY/review-password (systemd LoadCredential=review-password:...).",
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
    max_references_per_individual: int = Field(
        default=50,
        ge=1,
        description="Chips a person confirms become references of the individual up to this "
        "many references in all, the chips least like its references first.",
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
    image_roots: list[Path] = Field(
        default_factory=list,
        description="Folders besides watch.roots whose images the page may show: where the "
        "gallery's reference images were enrolled from (shown only when a reference has no "
        "thumbnail; `bearagent gallery thumbnails` makes them).",
    )
    embed_providers: list[str] = Field(
        default_factory=lambda: ["CPUExecutionProvider"],
        min_length=1,
        description="ONNX Runtime providers the review page embeds confirmed chips with (to "
        "pick new references); the CPU leaves the GPU to the agent.",
    )

    @field_validator("listen")
    @classmethod
    def _valid_listen(cls, v: str) -> str:
        parse_listen(v)
        return v.strip()

    @model_validator(mode="after")
    def _tls_pair(self) -> ReviewConfig:
        check_web_settings(self, "the review page", "review")
        return self

    @property
    def tls(self) -> bool:
        """Whether the page is served over HTTPS directly."""
        return self.tls_cert is not None

    @property
    def cookie_secure(self) -> bool:
        """Whether the session cookie carries the Secure flag."""
        return self.tls if self.secure_cookie is None else self.secure_cookie
