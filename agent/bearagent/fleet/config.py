"""The ``upload`` section: which chips the box sends the station, and the disk it may spend."""

from __future__ import annotations

from pydantic import Field

from bearagent.configbase import Section


class UploadConfig(Section):
    """The chips of every ended encounter go to the station (bytes, SHA-256, embedding)."""

    chips: bool = Field(
        default=True,
        description="Send the chips of ended encounters to the station (its media store, "
        "review desk and fleet gallery). false: only events.",
    )
    chips_per_encounter: int = Field(
        default=20,
        ge=1,
        le=10_000,
        description="At most this many chips of one encounter are sent, spread over its "
        "visit; chips that are gallery references always go.",
    )
    spool_mb: float = Field(
        default=512.0,
        gt=0,
        description="Disk the box may spend on chips waiting in its outbox (not yet sent, or "
        "sent and not yet confirmed by the station). Beyond it, chips wait on their files "
        "(nothing is lost while the files are there) and `bearagent status` says so.",
    )
    max_chip_bytes: int = Field(
        default=4_000_000,
        gt=0,
        description="Larger files are not sent (counted as skipped).",
    )
