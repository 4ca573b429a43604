"""The optional metadata table: per-chip values that win over everything bear-train can infer.

A CSV or Parquet file with a ``path`` column (relative to the chips root,
required) and any of ``individual``, ``camera``, ``captured_at`` (ISO 8601),
``encounter``; an empty cell says nothing. The column names of the
wildlife-datasets collection (BrownBearHeads and ~30 other sets, as downloaded)
are read too: ``identity`` for ``individual``, ``date`` for ``captured_at``,
``video`` (a clip: its frames are one encounter) for ``encounter``. Rows whose
identity is ``unknown`` (unlabelled images) are left out.

When every row names its individual, the table *lists* the chips: its paths are
the data set, in any folder layout (`table_lists_chips`). Otherwise chips are
found in ``<root>/<individual>/<image>`` and the table only adds values.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any

from beartrain.data.errors import MetadataError
from beartrain.data.names import localise

METADATA_FIELDS = ("path", "individual", "camera", "captured_at", "encounter")
#: wildlife-datasets column -> ours.
ALIASES = {"identity": "individual", "date": "captured_at", "video": "encounter"}
#: Identities that label nobody (wildlife-datasets marks unlabelled images so).
UNLABELLED = {"unknown", "nan", "none"}


@dataclass(frozen=True)
class MetadataEntry:
    """What the table says about one chip; "" or None where the cell is empty."""

    individual: str = ""
    camera: str = ""
    captured_at: datetime | None = None
    encounter: str = ""


def _kind(path: Path) -> str:
    return "metadata CSV" if path.suffix.lower() == ".csv" else "metadata table"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # NaN from a pandas export
        return ""
    return str(value).strip()


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Columns and rows (cells as text) of a CSV or Parquet table."""
    if not path.is_file():
        raise MetadataError(f"{_kind(path)} {path} does not exist: check the path")
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            import pyarrow.parquet as pq
        except ImportError as e:
            raise MetadataError(
                f"reading {path} needs pyarrow: pip install 'bearid[train]' (or give a CSV)"
            ) from e
        try:
            table = pq.read_table(path)
        except (OSError, ValueError) as e:
            raise MetadataError(f"{path} is not a readable Parquet file ({e})") from e
        columns = [str(c) for c in table.column_names]
        return columns, [{k: _cell(v) for k, v in r.items()} for r in table.to_pylist()]
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        columns = [c.strip() for c in reader.fieldnames or ()]
        rows = [
            {k.strip(): (v or "").strip() for k, v in r.items() if k is not None} for r in reader
        ]
    return columns, rows


def read_metadata(table_path: Path, zone: tzinfo) -> dict[str, MetadataEntry]:
    """Entries of the metadata table keyed by POSIX path relative to the root."""
    columns, rows = read_rows(table_path)
    kind = _kind(table_path)
    if "path" not in columns:
        raise MetadataError(
            f"{kind} {table_path} has no 'path' column (columns: {', '.join(columns)}): "
            f"use the header {','.join(METADATA_FIELDS)}"
        )
    entries: dict[str, MetadataEntry] = {}
    for line, raw in enumerate(rows, start=2):
        row = {ALIASES.get(k, k): v for k, v in raw.items() if v}
        path = raw.get("path", "").replace("\\", "/").removeprefix("./")
        if not path:
            raise MetadataError(f"{table_path}:{line}: empty path: fill it in or drop the row")
        if path in entries:
            raise MetadataError(f"{table_path}:{line}: {path} is listed twice: keep one row")
        individual = row.get("individual", "")
        if individual.lower() in UNLABELLED:
            continue
        encounter = row.get("encounter", "")
        if raw.get("video") and not raw.get("encounter"):
            encounter = f"video:{raw['video']}"
        entries[path] = MetadataEntry(
            individual=individual,
            camera=row.get("camera", ""),
            captured_at=_parse_time(row.get("captured_at", ""), zone, f"{table_path}:{line}"),
            encounter=encounter,
        )
    return entries


def table_lists_chips(entries: dict[str, MetadataEntry]) -> bool:
    """Whether the table names the individual of every chip (it then lists the data set)."""
    return bool(entries) and all(e.individual for e in entries.values())


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
