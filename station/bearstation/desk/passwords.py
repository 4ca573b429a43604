"""The desk's password: an argon2 hash in a file (`bearagent.webkit.passwords`), in the
desk's words (`bear-station review passwd FILE`, ``desk.password_file``, the systemd
credential ``desk-password``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bearagent.webkit import passwords as shared
from bearstation.desk.config import CREDENTIAL_NAME

RULES = shared.PasswordRules(
    what="desk",
    command="bear-station review passwd",
    key="desk.password_file",
    credential=CREDENTIAL_NAME,
    user="the station's user",
)


def password_file(configured: Path | None, environ: Mapping[str, str] | None = None) -> Path:
    """The hash file in use: `configured` (a relative name is looked up in
    $CREDENTIALS_DIRECTORY), else $CREDENTIALS_DIRECTORY/desk-password."""
    return shared.password_file(RULES, configured, environ)


def read_hash(path: Path) -> str:
    """The argon2 hash stored in `path`, or `PasswordFileError` saying how to make one."""
    return shared.read_hash(RULES, path)
