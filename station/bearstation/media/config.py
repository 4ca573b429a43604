"""The ``[media]`` section: where the station keeps chips' bytes, and what it accepts."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bearstation.database import parse_url
from bearstation.media.types import KNOWN_TYPES

#: The media folder of a database that is not a file (PostgreSQL, in-memory SQLite).
DEFAULT_ROOT = Path("bearstation-media")
#: As the box's ``watch.max_file_bytes``: any chip a box accepts, the station keeps.
DEFAULT_MAX_CHIP_BYTES = 20_000_000


class MediaConfig(BaseModel):
    """The media store: chips' bytes, content-addressed, each stored once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    root: Path | None = Field(
        default=None,
        description="Folder of the chips' bytes, named by their SHA-256 "
        "(<root>/<sha[:2]>/<sha[2:4]>/<sha>.<ext>). Unset: beside an SQLite database as "
        "<database stem>-media/ (sqlite:///bearstation.db -> bearstation-media/); for a "
        "PostgreSQL URL, ./bearstation-media in the folder the station runs in.",
    )
    max_chip_bytes: int = Field(
        default=DEFAULT_MAX_CHIP_BYTES,
        gt=0,
        description="Larger chips are refused (the box's watch.max_file_bytes default).",
    )
    content_types: tuple[str, ...] = Field(
        default=KNOWN_TYPES,
        min_length=1,
        description="Image types kept, checked against the bytes' own signature: any of "
        + ", ".join(KNOWN_TYPES)
        + ".",
    )

    @field_validator("content_types")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [t for t in value if t not in KNOWN_TYPES]
        if unknown:
            raise ValueError(
                f"media.content_types: {', '.join(unknown)} is not an image type the store "
                f"knows; choose among {', '.join(KNOWN_TYPES)}"
            )
        return value


def media_root(config: MediaConfig, database_url: str) -> Path:
    """The media folder: `config.root`, else beside an SQLite file, else ./bearstation-media."""
    if config.root is not None:
        return config.root
    url = parse_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        database = Path(url.database)
        return database.with_name(f"{database.stem}-media")
    return DEFAULT_ROOT
