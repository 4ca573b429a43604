"""Files fetched from the station by SHA-256, resumable across restarts.

A download grows ``<final>.part`` strictly in order: a chunk is written only where the
file ends now (a repeat is skipped, a chunk after a gap waits to be asked for again), and
each write is flushed to disk, so after a crash or a power cut the part's length is where
the next request starts. A complete part is checked (size, SHA-256) before it is renamed
to its final name; a part that fails is deleted, never used.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from bearagent.rollout.errors import ModelRefused

#: Where rolled-out models live in the state folder, each as ``<sha256>.onnx``.
MODELS_FOLDER = "models"
#: Where reference chips fetched from the station are kept, each as ``<sha256>.chip``.
CHIPS_FOLDER = "rollout-chips"


def model_path(state_dir: Path, sha256: str) -> Path:
    """Where the model with this SHA-256 is kept once fetched."""
    return state_dir / MODELS_FOLDER / f"{sha256}.onnx"


def chip_path(state_dir: Path, sha256: str) -> Path:
    """Where a reference chip fetched from the station is kept."""
    return state_dir / CHIPS_FOLDER / f"{sha256}.chip"


def sha256_of_file(path: Path, block: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while data := f.read(block):
            digest.update(data)
    return digest.hexdigest()


def local_copy(state_dir: Path, configured: Path, sha256: str) -> Path | None:
    """A file of this model already on the box: fetched before, or the configured model."""
    fetched = model_path(state_dir, sha256)
    if fetched.is_file():
        return fetched
    if configured.is_file() and sha256_of_file(configured) == sha256:
        return configured
    return None


def prune_models(state_dir: Path, keep: list[Path]) -> None:
    """Remove fetched models (and partial files) but those in `keep`."""
    kept = {p.name for p in keep if p.parent.name == MODELS_FOLDER}
    folder = state_dir / MODELS_FOLDER
    for path in folder.glob("*") if folder.is_dir() else []:
        if path.name.split(".", 1)[0] + ".onnx" not in kept:
            path.unlink(missing_ok=True)


@dataclass(frozen=True)
class Download:
    """One file being fetched: `final` once checked, ``<final>.part`` until then."""

    final: Path
    sha256: str

    @property
    def part(self) -> Path:
        """The partial file."""
        return self.final.with_name(self.final.name + ".part")

    @property
    def done(self) -> bool:
        """The final file is there."""
        return self.final.is_file()

    def length(self) -> int:
        """Bytes held so far (the final file's size once done)."""
        for path in (self.final, self.part):
            try:
                return path.stat().st_size
            except FileNotFoundError:
                continue
        return 0

    def append(self, offset: int, data: bytes) -> bool:
        """Write `data` if it starts where the part ends; True when the part grew."""
        if self.done or offset != self.length() or not data:
            return False
        self.part.parent.mkdir(parents=True, exist_ok=True)
        with self.part.open("ab") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        return True

    def finish(self, size: int, advice: str) -> Path:
        """Check the complete part (its size and SHA-256) and rename it to `final`.

        A part that fails is deleted and `ModelRefused` says why (ending with `advice`);
        the final file is returned as it is when it exists already.
        """
        if self.done:
            return self.final
        actual_size = self.length()
        actual = sha256_of_file(self.part) if actual_size == size else None
        if actual != self.sha256:
            self.part.unlink(missing_ok=True)
            what = (
                f"{actual_size} bytes arrived, the offer says {size}"
                if actual is None
                else f"its {size} bytes hash to {actual[:12]}..., not to {self.sha256[:12]}..."
            )
            raise ModelRefused(
                f"the file fetched as {self.sha256[:12]}... is damaged ({what}): {advice}"
            )
        os.replace(self.part, self.final)
        _fsync_folder(self.final.parent)
        return self.final

    def discard(self) -> None:
        """Remove the part (the final file stays)."""
        self.part.unlink(missing_ok=True)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
