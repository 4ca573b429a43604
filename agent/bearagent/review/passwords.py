"""The review password: an argon2 hash in a file (systemd hands it over with LoadCredential=).

`bearagent review passwd FILE` writes the hash (mode 0600); the server reads it
once at start and verifies each login against it. The plain password is never
stored. The file handling is shared with the station's desk (`bearagent.webkit.passwords`);
these are its words for the review page.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bearagent.review.config import CREDENTIAL_NAME
from bearagent.webkit import passwords as _shared
from bearagent.webkit.passwords import (
    CREDENTIALS_ENV,
    MIN_PASSWORD_LENGTH,
    hash_password,
    verify_password,
    write_hash_file,
)

__all__ = [
    "CREDENTIALS_ENV",
    "MIN_PASSWORD_LENGTH",
    "RULES",
    "hash_password",
    "password_file",
    "read_hash",
    "verify_password",
    "write_hash_file",
]

RULES = _shared.PasswordRules(
    what="review",
    command="bearagent review passwd",
    key="review.password_file",
    credential=CREDENTIAL_NAME,
    user="the agent's user",
)


def password_file(configured: Path | None, environ: Mapping[str, str] | None = None) -> Path:
    """The hash file in use: `configured` (a relative name is looked up in
    $CREDENTIALS_DIRECTORY), else $CREDENTIALS_DIRECTORY/review-password."""
    return _shared.password_file(RULES, configured, environ)


def read_hash(path: Path) -> str:
    """The argon2 hash stored in `path`, or `PasswordFileError` saying how to make one."""
    return _shared.read_hash(RULES, path)
