"""The review password: an argon2 hash in a file (systemd hands it over with LoadCredential=).

`bearagent review passwd FILE` writes the hash (mode 0600); the server reads it
once at start and verifies each login against it. The plain password is never
stored.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from bearagent.review.config import CREDENTIAL_NAME
from bearagent.review.errors import ExtraMissing, PasswordFileError

CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"
MIN_PASSWORD_LENGTH = 8

if TYPE_CHECKING:
    from argon2 import PasswordHasher


def _hasher() -> PasswordHasher:
    try:
        from argon2 import PasswordHasher
    except ImportError as e:  # the review extra is optional
        raise ExtraMissing(
            "the review page needs the 'review' extra: pip install 'bearid[review]'"
        ) from e
    return PasswordHasher()


def password_file(configured: Path | None, environ: Mapping[str, str] | None = None) -> Path:
    """The hash file in use: `configured` (a relative name is looked up in
    $CREDENTIALS_DIRECTORY), else $CREDENTIALS_DIRECTORY/review-password."""
    env = os.environ if environ is None else environ
    directory = env.get(CREDENTIALS_ENV)
    if configured is not None and configured.is_absolute():
        return configured
    if directory:
        return Path(directory) / (configured or CREDENTIAL_NAME)
    if configured is None:
        raise PasswordFileError(
            "no review password: write one with `bearagent review passwd FILE`, then give "
            "--password-file FILE (or review.password_file), or run under systemd with "
            f"LoadCredential={CREDENTIAL_NAME}:FILE"
        )
    raise PasswordFileError(
        f"review.password_file '{configured}' is a relative name but ${CREDENTIALS_ENV} is not "
        f"set: give an absolute path, or run under systemd with LoadCredential={configured}:FILE"
    )


def read_hash(path: Path) -> str:
    """The argon2 hash stored in `path`, or `PasswordFileError` saying how to make one."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise PasswordFileError(
            f"review password file {path} does not exist: write it with "
            f"`bearagent review passwd {path}`"
        ) from None
    except PermissionError:
        raise PasswordFileError(
            f"review password file {path} is not readable by this user: run as the agent's "
            "user, or hand it over with systemd's LoadCredential="
        ) from None
    except (IsADirectoryError, UnicodeDecodeError) as e:
        raise PasswordFileError(f"review password file {path} is not a text file ({e})") from None
    if not text.startswith("$argon2"):
        raise PasswordFileError(
            f"review password file {path} holds no argon2 hash (an empty file, or a plain "
            f"password?): write it with `bearagent review passwd {path}`"
        )
    return text


def hash_password(password: str) -> str:
    """An argon2id hash of `password` (at least `MIN_PASSWORD_LENGTH` characters)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordFileError(
            f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters"
        )
    return str(_hasher().hash(password))


def verify_password(stored_hash: str, password: str) -> bool:
    """Whether `password` matches `stored_hash` (never raises for a wrong password)."""
    hasher = _hasher()
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(hasher.verify(stored_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def write_hash_file(path: Path, password: str) -> None:
    """Write the hash of `password` to `path` with mode 0600, atomically (replacing it)."""
    digest = hash_password(password)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(digest + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temp, 0o600)  # whatever the umask
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
