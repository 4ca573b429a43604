"""The ``watch`` section of the agent's configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class WatchConfig(BaseModel):
    """Which folders to watch and when a file in them counts as a complete chip."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    roots: list[Path] = Field(
        default_factory=list,
        description="Folders to watch, recursively (the camera traps or the upstream detector "
        "write chips below them). `bearagent run --watch DIR` adds to this list.",
    )
    observer: Literal["native", "polling"] = Field(
        default="native",
        description="'native' uses inotify on Linux (sees close-after-write); 'polling' "
        "compares directory listings and is the one that works on network shares (NFS, SMB).",
    )
    polling_interval_s: float = Field(
        default=2.0, gt=0, description="How often the polling observer lists the folders."
    )
    stable_after_s: float = Field(
        default=2.0,
        ge=0,
        description="A file that was neither closed after writing nor renamed into place "
        "counts as complete once its size and mtime have not changed for this long.",
    )
    rescan_interval_s: float = Field(
        default=600.0,
        ge=0,
        description="Full rescan of the roots every so often (0 = never), a safety net for "
        "events lost without notice (an inotify queue overflow triggers a rescan at once); "
        "already processed files cost a lookup.",
    )
    extensions: list[str] = Field(
        default=[".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"],
        description="File extensions that are chips (case-insensitive).",
    )
    ignore: list[str] = Field(
        default=[".*", "*.tmp", "*.part", "*.partial", "*.crdownload", "*~", "~*", "*.swp"],
        description="Glob patterns of file names to ignore: dotfiles and the temporary names "
        "copy tools (rsync, browsers, editors) write before renaming into place.",
    )
    path_pattern: str = Field(
        default=r"^(?P<site>[^/]+)/(?P<camera>[^/]+)/",
        description="Regular expression matched against the path relative to the watch root, "
        "with named groups 'site' and 'camera' (e.g. /traps/<site>/<camera>/...). Without a "
        "match, the camera is the first folder below the root and the site is agent.site.",
    )
    max_file_bytes: int = Field(
        default=20_000_000,
        gt=0,
        description="Larger files are rejected without being read (a chip is a few hundred KB).",
    )
    max_pixels: int = Field(
        default=40_000_000,
        gt=0,
        description="Images whose header declares more pixels are rejected before decoding.",
    )
