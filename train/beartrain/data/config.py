"""How bear-train reads a chips folder: the `data` section of its configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bearagent.chips.filenames import DEFAULT_FILENAME_PATTERN, DEFAULT_TIME_FORMATS

#: A crop's source photo: the name without trailing detector / crop counters.
DEFAULT_SOURCE_STEM = (
    r"^(?P<stem>.+?)(?:[-_. ]?(?:cascade|head|face|crop|object|obj|chip|det|detection|box|"
    r"bbox|roi|part|cls|instance)[-_]?\d+)+$"
)


class DataConfig(BaseModel):
    """Where the chips are and how their capture time and encounters are found."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    root: Path | None = Field(
        default=None, description="Chips folder in the layout <root>/<individual>/<image>."
    )
    metadata_csv: Path | None = Field(
        default=None,
        description=(
            "Optional metadata table, CSV or Parquet, with columns path, individual, camera, "
            "captured_at, encounter (path relative to root), or the wildlife-datasets names "
            "identity, path, date, video. Its values win over everything else; when every row "
            "names its individual, the table lists the chips in any folder layout."
        ),
    )
    extensions: tuple[str, ...] = Field(
        default=(".jpg", ".jpeg", ".png", ".webp", ".bmp"),
        description="File extensions counted as chips (case-insensitive).",
    )
    filename_pattern: str = Field(
        default=DEFAULT_FILENAME_PATTERN,
        description=(
            "Regular expression applied to the file name without its extension. Named groups "
            "(a trailing digit tells alternatives apart: time2, clip3, ...): time (capture time, "
            "parsed with filename_time_formats), end (end of a video clip), camera, clip (a "
            "video clip or manual shot series: its chips form one encounter), frame. The "
            "default reads camera-trap names (cam02_20260514-061502_00042), video-clip frames "
            "(20250401093214_20250401093754_0018), camera recordings "
            "(J29_2025.03.2623_12_18_manual_..._000003) and numbered manual shots "
            "(331-2-5-3(1), 414-1-2-7-1), camtrapR names (Station__Cam__2026-07-01__14-00-00(1)) "
            "and a date and time anywhere in the name (IMG_20260701_140000). Shared with the "
            "agent (bearagent.chips.filenames)."
        ),
    )
    filename_time_formats: tuple[str, ...] = Field(
        default=DEFAULT_TIME_FORMATS,
        description="strptime formats tried in order on the time group of filename_pattern "
        "(then its digits alone as %Y%m%d%H%M%S).",
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
    use_mtime: bool = Field(
        default=True,
        description=(
            "Date chips that metadata, EXIF and file name leave undated by their file "
            "modification time (recorded as source 'mtime')."
        ),
    )
    mtime_encounters: bool = Field(
        default=False,
        description=(
            "Let modification times group chips into encounters. Off by default: copying or "
            "checking out files resets them, which would merge unrelated chips."
        ),
    )
    content_grouping: Literal["hash", "backbone", "both", "none"] = Field(
        default="hash",
        description=(
            "How chips without a reliable capture time (mtime or none) are grouped by "
            "content: near-duplicates of one individual (within hash_distance bits of a "
            "perceptual hash, and/or a frozen-backbone cosine of at least "
            "backbone_similarity) share an encounter, transitively, with whatever they "
            "duplicate. 'none' trusts names alone (can leak: re-encoded copies on two sides)."
        ),
    )
    hash_distance: int = Field(
        default=10,
        ge=0,
        le=64,
        description=(
            "Largest Hamming distance (of 64 bits) between perceptual hashes of "
            "near-duplicates. Re-encodings differ by 0-4, 5 %-shifted crops by about 8, "
            "other photos of one cow by 15 or more (cattle faces)."
        ),
    )
    backbone_similarity: float = Field(
        default=0.92,
        gt=0,
        le=1,
        description="Frozen-backbone cosine of near-duplicates (content_grouping backbone/both).",
    )
    source_stem_pattern: str = Field(
        default=DEFAULT_SOURCE_STEM,
        description=(
            "Regular expression on the file name (without extension) whose group 'stem' "
            "names the source photo of a crop: undated chips of one individual with the "
            "same stem are one encounter (img_0963_cascade_0_head_1 and "
            "img_0963_cascade_1_head_6 are crops of img_0963; img-id1059-object-2 of "
            "img-id1059)."
        ),
    )
    counter_series: bool = Field(
        default=True,
        description=(
            "Undated chips named by a bare number (001.jpg, 0042.png) in one individual's "
            "folder tell nothing apart: they form one encounter (a shot series) instead of "
            "one each."
        ),
    )
