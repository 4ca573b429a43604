"""How bear-train reads a chips folder: the `data` section of its configuration."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class DataConfig(BaseModel):
    """Where the chips are and how their capture time and encounters are found."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    root: Path | None = Field(
        default=None, description="Chips folder in the layout <root>/<individual>/<image>."
    )
    metadata_csv: Path | None = Field(
        default=None,
        description=(
            "Optional CSV with columns path, individual, camera, captured_at, encounter "
            "(path relative to root). Its values win over everything else."
        ),
    )
    extensions: tuple[str, ...] = Field(
        default=(".jpg", ".jpeg", ".png", ".webp", ".bmp"),
        description="File extensions counted as chips (case-insensitive).",
    )
    filename_pattern: str = Field(
        default=(
            r"^(?P<camera>[A-Za-z]+\d+)_(?P<time>\d{8}-\d{6})_"
            r"|^(?P<clip>(?P<time2>\d{14})_\d{14})_(?P<frame>\d+)"
        ),
        description=(
            "Regular expression applied to the file name when EXIF has no capture time. "
            "Named groups: time / time2 (parsed with filename_time_formats), camera, clip "
            "(a video clip id: its frames form one encounter), frame."
        ),
    )
    filename_time_formats: tuple[str, ...] = Field(
        default=("%Y%m%d-%H%M%S", "%Y%m%d%H%M%S"),
        description="strptime formats tried in order on the time group of filename_pattern.",
    )
    timezone: str = Field(
        default="UTC",
        description="IANA timezone of capture times that carry no offset (EXIF, file names).",
    )
    encounter_gap_s: float = Field(
        default=60.0,
        gt=0,
        description="Chips of one individual and camera closer than this form one encounter.",
    )
