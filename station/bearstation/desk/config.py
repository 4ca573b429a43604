"""The ``[desk]`` section of the station's configuration: the review desk."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from bearagent.webkit.section import WebSection

#: The credential name the systemd unit loads (LoadCredential=desk-password:...).
CREDENTIAL_NAME = "desk-password"


class DeskConfig(WebSection):
    """The review desk (`bear-station review`): a person decides every box's encounters."""

    WHAT: ClassVar[str] = "the review desk"
    SECTION: ClassVar[str] = "desk"

    listen: str = Field(
        default="127.0.0.1:8091",
        description="HOST:PORT the desk listens on. The default reaches this machine only: "
        "use an SSH tunnel, or a reverse proxy with TLS (docs/desk.md).",
    )
    password_file: Path | None = Field(
        default=None,
        description="File holding the password's argon2 hash (`bear-station review passwd "
        "FILE` writes it). A relative name is looked up in $CREDENTIALS_DIRECTORY. Default: "
        "$CREDENTIALS_DIRECTORY/desk-password (systemd LoadCredential=desk-password:...).",
    )
    resend_s: float = Field(
        default=30.0,
        gt=0,
        description="A decision its box has not answered yet (with a correction or a refusal) "
        "is sent to the box again after this long, then after twice as long each time (at "
        "most an hour); the box applies each decision once.",
    )
