"""The optional metadata CSV: per-chip values that win over everything bear-train can infer.

Columns: ``path`` (relative to the chips root, required) and any of ``individual``,
``camera``, ``captured_at`` (ISO 8601), ``encounter``; an empty cell says nothing.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path

from beartrain.data.errors import MetadataError
from beartrain.data.names import localise

METADATA_FIELDS = ("path", "individual", "camera", "captured_at", "encounter")


@dataclass(frozen=True)
class MetadataEntry:
    """What the CSV says about one chip; "" or None where the cell is empty."""

    individual: str = ""
    camera: str = ""
    captured_at: datetime | None = None
    encounter: str = ""


def read_metadata(csv_path: Path, zone: tzinfo) -> dict[str, MetadataEntry]:
    """Entries of the metadata CSV keyed by POSIX path relative to the root."""
    if not csv_path.is_file():
        raise MetadataError(f"metadata CSV {csv_path} does not exist: check the path")
    with csv_path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        columns = tuple(c.strip() for c in reader.fieldnames or ())
        if "path" not in columns:
            raise MetadataError(
                f"metadata CSV {csv_path} has no 'path' column (columns: {', '.join(columns)}): "
                f"use the header {','.join(METADATA_FIELDS)}"
            )
        entries: dict[str, MetadataEntry] = {}
        for line, raw in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
            path = row["path"].replace("\\", "/").removeprefix("./")
            if not path:
                raise MetadataError(f"{csv_path}:{line}: empty path: fill it in or drop the row")
            if path in entries:
                raise MetadataError(f"{csv_path}:{line}: {path} is listed twice: keep one row")
            entries[path] = MetadataEntry(
                individual=row.get("individual", ""),
                camera=row.get("camera", ""),
                captured_at=_parse_time(row.get("captured_at", ""), zone, f"{csv_path}:{line}"),
                encounter=row.get("encounter", ""),
            )
    return entries


def _parse_time(text: str, zone: tzinfo, where: str) -> datetime | None:
    if not text:
        return None
    try:
        return localise(datetime.fromisoformat(text), zone)
    except ValueError as e:
        raise MetadataError(
            f"{where}: captured_at {text!r} is not an ISO 8601 time: "
            "write it like 2026-05-14T06:15:02+02:00"
        ) from e
