"""The ``capture`` section of the agent's configuration: where capture times come from."""

from __future__ import annotations

from datetime import tzinfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bearagent.chips.filenames import (
    DEFAULT_FILENAME_PATTERN,
    DEFAULT_TIME_FORMATS,
    FileNamePattern,
    FileNamePatternError,
)


class CaptureConfig(BaseModel):
    """Capture time: sidecar, then EXIF, then the file name, then the file's mtime."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sidecars: bool = Field(
        default=True,
        description="Read <chip>.json written by an upstream detector (captured_at, "
        "source_frame, box, score, detector) before EXIF.",
    )
    filename_pattern: str = Field(
        default=DEFAULT_FILENAME_PATTERN,
        description="Regular expression matched against the file name without its extension; "
        "its group named time (or time2, time3, ...: alternatives number them) is the capture "
        "time. The default reads camera-trap names (cam10_20260701-140000_00000), video-clip "
        "frames (20250401093214_20250401093754_0018), camtrapR names "
        "(Station__Cam__2026-07-01__14-00-00(1)) and a date and time anywhere in the name "
        "(IMG_20260701_140000). Shared with bear-train.",
    )
    filename_time_formats: tuple[str, ...] = Field(
        default=DEFAULT_TIME_FORMATS,
        description="strptime formats tried on the time group (then its digits alone as "
        "%Y%m%d%H%M%S).",
    )

    @field_validator("filename_pattern")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            FileNamePattern(v, setting="capture.filename_pattern")
        except FileNamePatternError as e:
            raise ValueError(str(e)) from e
        return v

    def pattern(self, timezone: tzinfo) -> FileNamePattern:
        """The file-name parser this section describes."""
        return FileNamePattern(self.filename_pattern, self.filename_time_formats, timezone)
