"""Reading a broker password from a file, the way systemd hands secrets to services.

With ``LoadCredential=mqtt-password:/etc/bearagent/mqtt-password`` in the unit,
systemd copies the secret into a private directory and names it in
``$CREDENTIALS_DIRECTORY``; ``password_file = "mqtt-password"`` then finds it.
The file is read when the program connects, never at import. The box and the
station read their passwords here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from bearagent.wire.errors import CredentialsError

CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"


def resolve_password_file(
    path: Path, environ: Mapping[str, str] | None = None, *, setting: str = "mqtt.password_file"
) -> Path:
    """`path` itself when absolute, else its place in ``$CREDENTIALS_DIRECTORY``.

    `setting` is how the configuration names the key (for the message).
    """
    if path.is_absolute():
        return path
    env = os.environ if environ is None else environ
    directory = env.get(CREDENTIALS_ENV)
    if not directory:
        raise CredentialsError(
            f"{setting} '{path}' is a relative name but ${CREDENTIALS_ENV} is not set: "
            f"give an absolute path, or run under systemd with LoadCredential={path}:/path/to/file"
        )
    return Path(directory) / path


def read_password(
    path: Path,
    environ: Mapping[str, str] | None = None,
    *,
    setting: str = "mqtt.password_file",
    owner: str = "mqtt",
) -> str:
    """The password in `path` (see `resolve_password_file`), without its trailing newline.

    `owner` names whose password it is in messages ("mqtt", "broker host:port").
    """
    full = resolve_password_file(path, environ, setting=setting)
    try:
        text = full.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CredentialsError(
            f"{owner} password file {full} does not exist: create it (one line, the password) "
            f"or fix {setting}"
        ) from None
    except PermissionError:
        raise CredentialsError(
            f"{owner} password file {full} is not readable by this user: give the program's "
            "user read access (chmod 640, group of the service)"
        ) from None
    except (IsADirectoryError, UnicodeDecodeError) as e:
        raise CredentialsError(
            f"{owner} password file {full} is not a UTF-8 text file ({e}): put the password "
            "on one line in a plain file"
        ) from None
    password = text.removesuffix("\n").removesuffix("\r")
    if not password:
        raise CredentialsError(f"{owner} password file {full} is empty: write the password in it")
    return password
