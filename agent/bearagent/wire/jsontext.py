"""JSON text that is always valid: names from the file system made UTF-8, numbers finite,
timestamps with their offset. The payload builders' shared helpers."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any


def dumps(obj: dict[str, Any]) -> str:
    # ensure_ascii=False keeps names readable; text() guarantees the result encodes as UTF-8.
    return json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def text(value: str) -> str:
    """`value` as valid UTF-8 text: undecodable file-name bytes become U+FFFD."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        pass
    try:  # os.fsdecode keeps undecodable bytes as surrogate escapes: recover them first
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # other lone surrogates, not from a file name
        raw = value.encode("utf-8", "replace")
    return raw.decode("utf-8", "replace")


def optional_text(value: str | None) -> str | None:
    return None if value is None else text(value)


def finite(value: float, what: str) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value}")
    return round(value, 6)


def similarity(value: float) -> float:
    # float32 dot products of unit vectors can land a hair outside [-1, 1].
    return min(1.0, max(-1.0, finite(value, "similarity")))


def latency(value: float | None) -> float | None:
    return None if value is None else round(max(0.0, float(value)), 3)


def timestamp(value: datetime, what: str) -> str:
    offset = value.utcoffset()
    if offset is None:
        raise ValueError(f"{what} must be timezone-aware (ISO 8601 needs its UTC offset)")
    if offset.total_seconds() % 60:  # ISO 8601 offsets are whole minutes
        value = value.astimezone(UTC)
    return value.isoformat()
