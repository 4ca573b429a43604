"""The published models: ONNX files named by their SHA-256 in the media folder's models/.

``<media root>/models/<sha256>.onnx`` with its card beside it (``<sha256>.onnx.json``),
copied in atomically (a temporary file, fsync, rename) and checked against the hash
after the copy, so a file served to boxes is always the one that was published.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from pathlib import Path

from bearagent.modelcard import ModelCard, sha256_file, sidecar_path, write_sidecar
from bearstation.rollout.errors import ModelNotPublishable

_SHA256 = re.compile(r"[0-9a-f]{64}")
#: The folder inside the media root (the media store's own folders are two hex digits).
FOLDER = "models"


class ModelFiles:
    """Published model files under `root` (``<media root>/models``)."""

    def __init__(self, media_root: Path) -> None:
        self.root = Path(media_root) / FOLDER

    def path_of(self, sha256: str) -> Path:
        """Where the model with this SHA-256 is (or would be) kept."""
        if _SHA256.fullmatch(sha256) is None:
            raise ValueError(f"{sha256!r} is not a lower-case SHA-256")
        return self.root / f"{sha256}.onnx"

    def has(self, sha256: str) -> bool:
        """The model is stored, undamaged (its size and hash checked)."""
        path = self.path_of(sha256)
        return path.is_file() and sha256_file(path) == sha256

    def put(self, source: Path, card: ModelCard) -> Path:
        """Copy `source` in under its card's SHA-256 (if not there yet) with its card."""
        sha = card.model.sha256 or ""
        target = self.path_of(sha)
        if not self.has(sha):
            self.root.mkdir(parents=True, exist_ok=True)
            temp = self.root / f".{target.name}.{secrets.token_hex(4)}.part"
            try:
                with source.open("rb") as src, temp.open("xb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                    dst.flush()
                    os.fsync(dst.fileno())
                if sha256_file(temp) != sha:
                    raise ModelNotPublishable(
                        f"{source} changed while it was copied: publish it again"
                    )
                os.replace(temp, target)
            except OSError as e:
                raise ModelNotPublishable(
                    f"cannot store {source} in {self.root}: {e.strerror} (free space or fix the "
                    "folder's permissions)"
                ) from None
            finally:
                temp.unlink(missing_ok=True)
        write_sidecar(card, sidecar_path(target))
        return target


def read_range(path: Path, offset: int, length: int) -> bytes:
    """Up to `length` bytes of a stored file from `offset` (fewer at its end); a symbolic
    link in its place is not followed."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        f.seek(offset)
        return f.read(length)
