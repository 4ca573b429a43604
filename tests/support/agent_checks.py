"""Helpers for the fault, load, hostile-input and security tests of the whole agent.

Chip bursts (many distinct chips of known bears), an agent configuration for a
world, the agent as a subprocess (`bearagent run --config ...`), and the checks
every promise is judged by: the ledger, the sightings, the events that reached a
subscriber, and ``PRAGMA integrity_check``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from beartrain.synthetic import encode_jpeg
from support.agent_world import World
from support.subscriber import Message

BEARAGENT = str(Path(sys.executable).parent / "bearagent")


@dataclass(frozen=True)
class Chip:
    """One chip file to write: where below the watch root, its bytes, whose face it is."""

    relative: str
    data: bytes
    who: str


def burst(world: World, count: int, cameras: int, seed: int = 0) -> list[Chip]:
    """`count` distinct chips of the world's known bears, spread over `cameras` cameras.

    Each chip is one of the bears' unseen chips with faint noise, so every file has
    its own content (the ledger would count an identical copy as a duplicate) and
    still looks like its bear to the pixel model.
    """
    rng = np.random.default_rng(seed)
    sources = [(who, rec, chip) for who, chips in world.unseen.items() for rec, chip in chips]
    out: list[Chip] = []
    for i in range(count):
        who, record, chip = sources[i % len(sources)]
        noisy = np.clip(chip.astype(np.int16) + rng.integers(-3, 4, chip.shape), 0, 255)
        data = encode_jpeg(noisy.astype(np.uint8), record.captured_at)
        out.append(Chip(f"north/cam{i % cameras:02d}/chip_{i:05d}.jpg", data, who))
    if len({c.data for c in out}) != count:
        raise ValueError("burst(): two chips came out byte-identical; change the seed")
    return out


def write_chips(root: Path, chips: list[Chip]) -> None:
    """Write chips like a copy tool: a dot-named temporary file, then a rename into place."""
    for chip in chips:
        final = root / chip.relative
        final.parent.mkdir(parents=True, exist_ok=True)
        temp = final.with_name(f".{final.name}.part")
        temp.write_bytes(chip.data)
        os.rename(temp, final)


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def agent_settings(world: World, **sections: dict[str, object]) -> dict[str, dict[str, object]]:
    """Settings for an agent on `world` (fast encounter ends, no stats), with overrides."""
    base: dict[str, dict[str, object]] = {
        "agent": {"id": "box1", "database": str(world.database), "timezone": "UTC"},
        "watch": {"roots": [str(world.traps)], "stable_after_s": 0.3},
        "runtime": {"model": str(world.model)},
        "encounter": {"gap_s": 60, "end_after_s": 1.0},
        "mqtt": {"stats_interval_s": 0},
    }
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    return base


def write_config(path: Path, settings: dict[str, dict[str, object]]) -> Path:
    """Write `settings` as a TOML config file (flat sections, and [mqtt.tls])."""
    lines: list[str] = []
    for section, values in settings.items():
        nested = {k: v for k, v in values.items() if isinstance(v, dict)}
        lines.append(f"[{section}]")
        lines += [f"{k} = {_toml(v)}" for k, v in values.items() if k not in nested]
        for name, table in nested.items():
            lines.append(f"[{section}.{name}]")
            lines += [f"{k} = {_toml(v)}" for k, v in table.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def start_agent(
    config: Path, log: Path, prefix: Sequence[str] = (), **popen: Any
) -> subprocess.Popen[bytes]:
    """`bearagent run --config CONFIG` as a subprocess (after `prefix`, e.g. setpriv),
    its log appended to `log`."""
    with log.open("ab") as err:
        return subprocess.Popen(
            [*prefix, BEARAGENT, "run", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=err,
            **popen,
        )


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` until it holds; raise `TimeoutError` naming `what` if it never does."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not reached in {timeout} s")
        time.sleep(0.1)


def query(database: Path, sql: str, *args: object) -> list[tuple[Any, ...]]:
    """Rows of `sql` on a fresh read-only connection ([] while the table does not exist)."""
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql, args).fetchall()
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return []
        raise
    finally:
        conn.close()


def files_recorded(database: Path) -> int:
    """Rows in the ledger."""
    rows = query(database, "SELECT COUNT(*) FROM files") if database.exists() else []
    return int(rows[0][0]) if rows else 0


def integrity(database: Path) -> str:
    """The result of ``PRAGMA integrity_check`` ('ok' for a sound database)."""
    return str(query(database, "PRAGMA integrity_check")[0][0])


def assert_recorded_once(database: Path, chips: list[Chip]) -> None:
    """Every chip has exactly one ledger row, processed, and exactly one sighting row."""
    rows = query(database, "SELECT path, status FROM files")
    per_path = Counter(path for path, _ in rows)
    expected = {c.relative for c in chips}
    missing = expected - set(per_path)
    twice = {p: n for p, n in per_path.items() if n > 1}
    assert not missing, f"{len(missing)} chips never recorded, e.g. {sorted(missing)[:3]}"
    assert not twice, f"chips recorded more than once: {dict(list(twice.items())[:3])}"
    statuses = Counter(status for path, status in rows if path in expected)
    assert statuses == {"processed": len(chips)}, statuses
    sightings = Counter(row[0] for row in query(database, "SELECT file FROM sightings"))
    assert set(sightings) == expected and set(sightings.values()) == {1}


def assert_events_delivered(database: Path, messages: list[Message]) -> None:
    """Each encounter's ``new`` and ``end`` reached the subscriber; duplicates are identical."""
    by_id: dict[str, bytes] = {}
    seen: set[tuple[str, str]] = set()
    for m in messages:
        if m.topic.rpartition("/")[2] not in ("sighting", "unknown", "correction"):
            continue  # status, stats, and what only a station reads (chips, feed, model)
        payload = m.json()
        first = by_id.setdefault(payload["event_id"], m.payload)
        assert first == m.payload, "two different events share an event_id"
        seen.add((payload["encounter_id"], payload.get("type", "alert")))
    encounters = [row[0] for row in query(database, "SELECT id FROM encounters")]
    assert encounters, "no encounter was recorded"
    for encounter in encounters:
        assert (encounter, "end") in seen, f"encounter {encounter}: 'end' never arrived"
        has_start = (encounter, "new") in seen or (encounter, "alert") in seen
        assert has_start, f"encounter {encounter}: neither 'new' nor an alert arrived"
    assert query(database, "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL")[0][0] == 0
