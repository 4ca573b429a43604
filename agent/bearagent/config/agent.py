"""The ``agent`` and ``pipeline`` sections: who this agent is, where it keeps state,
and how chips flow through it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_AGENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class AgentSection(BaseModel):
    """Identity of this field box and where it keeps its state."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(
        default="bearagent",
        description="Agent id: part of every MQTT topic (bearid/<id>/...). Letters, digits, "
        "'-', '_' and '.', at most 64.",
    )
    site: str = Field(
        default="default",
        description="Site name used when a chip's path names none (see watch.path_pattern).",
    )
    state_dir: Path = Field(
        default=Path("/var/lib/bearagent"),
        description="Folder for the database (gallery, ledger, sightings, outbox). systemd's "
        "StateDirectory= provides it.",
    )
    database: Path | None = Field(
        default=None, description="Database file. Default: <state_dir>/bearagent.db."
    )
    timezone: str | None = Field(
        default=None,
        description="IANA timezone of capture times that carry no UTC offset (most camera "
        "EXIF). Default: the box's local timezone.",
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR.")
    publisher: Literal["mqtt", "stdout"] = Field(
        default="mqtt",
        description="Where events go: 'mqtt' (the broker in [mqtt], store and forward), or "
        "'stdout' for a box without a broker (JSON lines; everything is still recorded).",
    )
    compact_memory: bool = Field(
        default=True,
        description="Limit glibc's malloc to 2 arenas and serve blocks of 128 KiB or more "
        "with mmap, so the buffers of finished batches go back to the system (10^5 "
        "references: peak RSS about 390 MB instead of 460). Skipped on other C libraries "
        "and where MALLOC_ARENA_MAX or MALLOC_MMAP_THRESHOLD_ is set in the environment.",
    )

    @field_validator("id")
    @classmethod
    def _valid_id(cls, v: str) -> str:
        if not _AGENT_ID.match(v):
            raise ValueError(
                "must be 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit "
                "(it becomes an MQTT topic level)"
            )
        return v

    @field_validator("log_level")
    @classmethod
    def _valid_level(cls, v: str) -> str:
        if v.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return v.upper()

    @property
    def database_path(self) -> Path:
        """The database file in use."""
        return self.database if self.database is not None else self.state_dir / "bearagent.db"


class PipelineConfig(BaseModel):
    """Micro-batching and back-pressure between the watcher and the model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_size: int = Field(default=8, ge=1, le=512, description="Chips embedded together at most.")
    batch_wait_ms: float = Field(
        default=10.0,
        ge=0,
        description="After the first chip of a batch, wait at most this long for more.",
    )
    reorder_window_s: float = Field(
        default=1.0,
        ge=0,
        le=600,
        description="Each embedded chip waits this many seconds (wall clock) before the "
        "encounter tracker sees it, then goes on with every chip of its camera captured "
        "before it, oldest first: chips that arrive a little out of order (a detector "
        "writing two frames' crops in parallel, a copy tool) are placed in capture order. "
        "Adds this much to each chip's latency; 0 turns the window off. Chips later than "
        "this still join their encounter (see encounter.late_chips_s).",
    )
