"""Camtrap DP 1.0: the camera-trap data package biologists' tools read.

`export_camtrap_dp` is a pure function of the database (and the package
metadata from the config): ``deployments.csv`` (one per box x camera, with the
span of its captures and its coordinates), ``media.csv`` (one row per chip),
``observations.csv`` (one event-level observation per counted encounter, with
the fleet-wide ``individualID`` and how it was classified) and
``datapackage.json``. The files are written beside the target and renamed into
place, so a failed export leaves the previous package whole.

Camtrap DP requires coordinates for every deployment; the station learns them
from `bear-station locate`, never from the boxes.
"""

from __future__ import annotations

import csv
import json
import mimetypes
import os
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from itertools import chain
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, Engine

from bearagent import __version__
from bearstation.config import ExportConfig
from bearstation.errors import ExportError
from bearstation.exports.records import (
    BlankRecord,
    ChipRecord,
    Deployment,
    EncounterRecord,
    all_deployments,
    blank_records,
    counted_chips,
    counted_encounters,
    mtime_dated_deployments,
)
from bearstation.exports.schemas import field_names, schema_url

PROFILE = "https://raw.githubusercontent.com/tdwg/camtrap-dp/1.0/camtrap-dp-profile.json"
_MEDIA_NS = uuid.UUID("6c1f5e0a-3b57-4c8e-9d2a-bea4b1d00001")


@dataclass(frozen=True)
class PackageSummary:
    """What an export wrote."""

    directory: Path
    deployments: int
    media: int
    observations: int


def export_camtrap_dp(
    engine: Engine, directory: Path, meta: ExportConfig, *, created: datetime | None = None
) -> PackageSummary:
    """Write the Camtrap DP package of everything in the database into `directory`."""
    with _snapshot(engine) as conn:
        deployments = all_deployments(conn)
        _check_coordinates(deployments)
        if not deployments:
            raise ExportError("the station has no events yet: nothing to export")
        mtime_dated = mtime_dated_deployments(conn)
        _prepare(directory)
        blanks = list(blank_records(conn))
        media_rows = chain((_media_row(c) for c in counted_chips(conn)), map(_blank_media, blanks))
        n_media = _write_csv(directory, "media", media_rows)
        observations = chain(
            (_observation_row(e, meta) for e in counted_encounters(conn)),
            map(_blank_observation, blanks),
        )
        n_obs = _write_csv(directory, "observations", observations)
    _write_csv(directory, "deployments", (_deployment_row(d, mtime_dated) for d in deployments))
    descriptor = _descriptor(deployments, meta, created or datetime.now(UTC), bool(blanks))
    _write_text(
        directory / "datapackage.json", json.dumps(descriptor, indent=2, ensure_ascii=False)
    )
    return PackageSummary(directory, len(deployments), n_media, n_obs)


def _snapshot(engine: Engine) -> Connection:
    """A connection whose queries all see one state of the database (PostgreSQL)."""
    conn = engine.connect()
    if conn.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    return conn


def _check_coordinates(deployments: list[Deployment]) -> None:
    missing = [d.deployment_id for d in deployments if d.latitude is None or d.longitude is None]
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise ExportError(
            f"Camtrap DP needs the coordinates of every camera; these have none: {shown}. "
            f"Set them with 'bear-station locate {missing[0]} --lat LAT --lon LON' "
            "(or --csv FILE for many)"
        )


def _prepare(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ExportError(f"cannot create the export folder {directory}: {e.strerror}") from None


def _write_csv(directory: Path, table: str, rows: Iterable[dict[str, Any]]) -> int:
    target = directory / f"{table}.csv"
    temp = target.with_name(f".{target.name}.part")
    n = 0
    try:
        with temp.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=field_names(table), lineterminator="\n")
            writer.writeheader()
            for row in rows:
                writer.writerow(row)
                n += 1
        os.replace(temp, target)
    except OSError as e:
        temp.unlink(missing_ok=True)
        raise ExportError(f"cannot write {target}: {e.strerror}") from None
    return n


def _write_text(target: Path, text: str) -> None:
    temp = target.with_name(f".{target.name}.part")
    try:
        temp.write_text(text + "\n", encoding="utf-8")
        os.replace(temp, target)
    except OSError as e:
        temp.unlink(missing_ok=True)
        raise ExportError(f"cannot write {target}: {e.strerror}") from None


def timestamp(value: datetime) -> str:
    """ISO 8601 to the second with its offset (``Z`` for UTC), as Camtrap DP wants."""
    text = value.isoformat(timespec="seconds")
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def media_id(agent_id: str, file: str) -> str:
    """A stable id of one chip of one box (the same in every export)."""
    return str(uuid.uuid5(_MEDIA_NS, f"{agent_id}\x00{file}"))


def media_path(agent_id: str, file: str) -> str:
    """The chip's path on its box, as a relative URL (Camtrap DP refuses '..' and '/x')."""
    return quote(f"{agent_id}/{file}", safe="/").replace("..", "%2E%2E")


@cache
def _mediatype(suffix: str) -> str:
    return mimetypes.guess_type(f"x{suffix}")[0] or "image/jpeg"


def _media_row(chip: ChipRecord) -> dict[str, Any]:
    name = chip.file.rpartition("/")[2]
    return {
        "mediaID": media_id(chip.agent_id, chip.file),
        "deploymentID": chip.deployment_id,
        "captureMethod": "activityDetection",
        "timestamp": timestamp(chip.captured_at),
        "filePath": media_path(chip.agent_id, chip.file),
        "filePublic": "false",
        "fileName": name,
        "fileMediatype": _mediatype(name[name.rfind(".") :] if "." in name else ""),
        "mediaComments": "capture time from the file's mtime"
        if chip.time_source == "mtime"
        else "",
    }


def _observation_row(enc: EncounterRecord, meta: ExportConfig) -> dict[str, Any]:
    human = enc.decided_by == "human"
    when = enc.corrected_at if human and enc.corrected_at else enc.processed_at
    tags = [f"outcome:{enc.status}", f"score:{enc.score_name}={enc.score_value:.4f}"]
    tags += [f"chips:{enc.chip_count}"]
    if enc.individual_id:
        tags.append(f"boxIndividual:{enc.agent_id}:{enc.individual_id}")
    comment = ""
    if enc.bear is None:
        comment = "not identified: waiting for a person's decision on the box"
    elif not enc.bear.named:
        comment = "provisional individual: not named yet"
    event_id = f"{enc.agent_id}/{enc.encounter_id}"
    return {
        "observationID": event_id,
        "deploymentID": enc.deployment_id,
        "eventID": event_id,
        "eventStart": timestamp(enc.started_at),
        "eventEnd": timestamp(enc.last_captured_at),
        "observationLevel": "event",
        "observationType": "animal",
        "scientificName": meta.scientific_name,
        "count": 1,
        "individualID": enc.bear.label if enc.bear else "",
        "classificationMethod": "human" if human else "machine",
        "classifiedBy": (enc.corrected_by or "?") if human else f"bearid {enc.model_name}",
        "classificationTimestamp": timestamp(when),
        # The best cosine similarity, not a calibrated probability (see docs/station.md).
        "classificationProbability": "" if human else f"{min(1.0, max(0.0, enc.similarity)):.4f}",
        "observationTags": " | ".join(tags),
        "observationComments": comment,
    }


def _blank_media(frame: BlankRecord) -> dict[str, Any]:
    return _media_row(
        ChipRecord(
            frame.agent_id, frame.file, frame.deployment_id, frame.captured_at, frame.time_source
        )
    )


def _blank_observation(frame: BlankRecord) -> dict[str, Any]:
    """A frame the box's detector found no face in: a media-level blank observation."""
    mid = media_id(frame.agent_id, frame.file)
    return {
        "observationID": f"blank/{mid}",
        "deploymentID": frame.deployment_id,
        "mediaID": mid,
        "eventStart": timestamp(frame.captured_at),
        "eventEnd": timestamp(frame.captured_at),
        "observationLevel": "media",
        "observationType": "blank",
        "classificationMethod": "machine",
        "classifiedBy": "bearid detector",
        "observationComments": "no face found by the box's detector",
    }


def _deployment_row(d: Deployment, mtime_dated: set[str]) -> dict[str, Any]:
    return {
        "deploymentID": d.deployment_id,
        "locationID": d.deployment_id,
        "locationName": d.location_name or f"{d.site} {d.camera}",
        "latitude": d.latitude,
        "longitude": d.longitude,
        "coordinateUncertainty": d.uncertainty_m if d.uncertainty_m else "",
        "deploymentStart": timestamp(d.start) if d.start else "",
        "deploymentEnd": timestamp(d.end) if d.end else "",
        "cameraID": d.camera,
        "cameraModel": d.camera_model or "",
        "timestampIssues": "true" if d.deployment_id in mtime_dated else "false",
        "deploymentTags": f"box:{d.agent_id} | site:{d.site}",
    }


def _descriptor(
    deployments: list[Deployment], meta: ExportConfig, created: datetime, blanks: bool = False
) -> Any:
    starts = [d.start for d in deployments if d.start]
    ends = [d.end for d in deployments if d.end]
    project: dict[str, Any] = {
        "title": meta.project_title,
        "samplingDesign": meta.sampling_design,
        "captureMethod": ["activityDetection"],
        "individualAnimals": True,
        "observationLevel": ["event", "media"] if blanks else ["event"],
    }
    if meta.project_description:
        project["description"] = meta.project_description
    descriptor: dict[str, Any] = {
        "profile": PROFILE,
        "name": "bearid-station",
        "id": str(uuid.uuid4()),
        "created": timestamp(created),
        "title": f"{meta.project_title}: brown bear individuals",
        "contributors": [c.model_dump(exclude_none=True) for c in meta.contributors],
        "keywords": ["Ursus arctos", "brown bear", "individual identification", "camera trap"],
        "sources": [{"title": "bearid base station (bear-station)", "version": __version__}],
        "project": project,
        "spatial": _spatial(deployments),
        "temporal": {"start": min(starts).date().isoformat(), "end": max(ends).date().isoformat()},
        "taxonomic": [{"scientificName": meta.scientific_name, "taxonRank": "species"}],
        "resources": list(_resources()),
    }
    if meta.data_license and meta.media_license:
        descriptor["licenses"] = [
            {"name": meta.data_license, "scope": "data"},
            {"name": meta.media_license, "scope": "media"},
        ]
    return descriptor


def _spatial(deployments: list[Deployment]) -> dict[str, Any]:
    """GeoJSON: the point, or the bounding box of the deployments."""
    lats = [d.latitude for d in deployments if d.latitude is not None]
    lons = [d.longitude for d in deployments if d.longitude is not None]
    south, north, west, east = min(lats), max(lats), min(lons), max(lons)
    if (south, west) == (north, east):
        return {"type": "Point", "coordinates": [west, south]}
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def _resources() -> Iterator[dict[str, Any]]:
    for name in ("deployments", "media", "observations"):
        yield {
            "name": name,
            "path": f"{name}.csv",
            "profile": "tabular-data-resource",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "schema": schema_url(name),
        }
