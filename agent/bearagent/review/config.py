"""The ``review`` section of the agent's configuration: the review page on the field box."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from bearagent.webkit.listen import is_loopback, parse_listen
from bearagent.webkit.section import WebSection

__all__ = ["CREDENTIAL_NAME", "ReviewConfig", "is_loopback", "parse_listen"]

#: The credential name the systemd unit loads (LoadCredential=review-password:...).
CREDENTIAL_NAME = "review-password"


class ReviewConfig(WebSection):
    """The review page (`bearagent review`): a person confirms, corrects or names bears."""

    WHAT: ClassVar[str] = "the review page"
    SECTION: ClassVar[str] = "review"

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
    max_references_per_individual: int = Field(
        default=50,
        ge=1,
        description="Chips a person confirms become references of the individual up to this "
        "many references in all, the chips least like its references first.",
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
