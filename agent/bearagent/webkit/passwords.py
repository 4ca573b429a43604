"""A review app's password: an argon2 hash in a file (systemd hands it over with
LoadCredential=).

`PasswordRules` names what a person reads in the messages (the box's review page and
the station's desk each have their own command, configuration key and credential
name); the functions write, read and check the hash. The plain password is never
stored.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bearagent.webkit.errors import ExtraMissing, PasswordFileError

CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"
MIN_PASSWORD_LENGTH = 8

if TYPE_CHECKING:
    from argon2 import PasswordHasher


@dataclass(frozen=True)
class PasswordRules:
    """The words of one app's password messages."""

    what: str  # "review", as in "no review password", "review password file X"
    command: str  # the command that writes the file, e.g. "bearagent review passwd"
    key: str  # the configuration key, e.g. "review.password_file"
    credential: str  # the systemd credential name, e.g. "review-password"
    user: str  # whose the service is, e.g. "the agent's user"


def _hasher() -> PasswordHasher:
    try:
        from argon2 import PasswordHasher
    except ImportError as e:  # the review extra is optional
        raise ExtraMissing(
            "checking a password needs the 'review' extra: pip install 'bearid[review]'"
        ) from e
    return PasswordHasher()


def password_file(
    rules: PasswordRules, configured: Path | None, environ: Mapping[str, str] | None = None
) -> Path:
    """The hash file in use: `configured` (a relative name is looked up in
    $CREDENTIALS_DIRECTORY), else $CREDENTIALS_DIRECTORY/<credential>."""
    env = os.environ if environ is None else environ
    directory = env.get(CREDENTIALS_ENV)
    if configured is not None and configured.is_absolute():
        return configured
    if directory:
        return Path(directory) / (configured or rules.credential)
    if configured is None:
        raise PasswordFileError(
            f"no {rules.what} password: write one with `{rules.command} FILE`, then give "
            f"--password-file FILE (or {rules.key}), or run under systemd with "
            f"LoadCredential={rules.credential}:FILE"
        )
    raise PasswordFileError(
        f"{rules.key} '{configured}' is a relative name but ${CREDENTIALS_ENV} is not "
        f"set: give an absolute path, or run under systemd with LoadCredential={configured}:FILE"
    )


def read_hash(rules: PasswordRules, path: Path) -> str:
    """The argon2 hash stored in `path`, or `PasswordFileError` saying how to make one."""
    named = f"{rules.what} password file {path}"
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise PasswordFileError(
            f"{named} does not exist: write it with `{rules.command} {path}`"
        ) from None
    except PermissionError:
        raise PasswordFileError(
            f"{named} is not readable by this user: run as {rules.user}, or hand it over "
            "with systemd's LoadCredential="
        ) from None
    except (IsADirectoryError, UnicodeDecodeError) as e:
        raise PasswordFileError(f"{named} is not a text file ({e})") from None
    if not text.startswith("$argon2"):
        raise PasswordFileError(
            f"{named} holds no argon2 hash (an empty file, or a plain password?): write it "
            f"with `{rules.command} {path}`"
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
