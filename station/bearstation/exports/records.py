"""What every export reads: deployments, counted encounters and their chips.

An encounter counts unless a box merged it into another one (its chips are
counted there) or a person rejected it (not a bear). Its individual is the
fleet-wide bear (`identities.fleet_bears`), so exports are link-aware. Times come
back in the camera's own local time (the UTC offset it was captured with).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import Connection, select

from bearstation.identities import Bear, fleet_bears
from bearstation.tables import blank_frames, cameras, encounters, individuals, sightings


@dataclass(frozen=True)
class Deployment:
    """One camera of one box: a Camtrap DP deployment."""

    camera_ref: int
    deployment_id: str  # agent/site/camera
    agent_id: str
    site: str
    camera: str
    start: datetime | None
    end: datetime | None
    latitude: float | None
    longitude: float | None
    uncertainty_m: int | None
    location_name: str | None
    camera_model: str | None


@dataclass(frozen=True)
class EncounterRecord:
    """One counted encounter with its decision and its fleet-wide bear."""

    ref: int
    agent_id: str
    encounter_id: str
    deployment_id: str
    started_at: datetime  # local time of the camera
    last_captured_at: datetime
    chip_count: int
    status: str
    bear: Bear | None
    individual_id: str | None  # the box's own id
    score_name: str
    score_value: float
    similarity: float
    known_threshold: float
    unknown_threshold: float
    model_name: str
    processed_at: datetime
    decided_by: str
    corrected_at: datetime | None
    corrected_by: str | None


def deployment_id(agent_id: str, site: str, camera: str) -> str:
    """The deployment's id: ``agent/site/camera``."""
    return f"{agent_id}/{site}/{camera}"


def local(value: datetime, offset_min: int) -> datetime:
    """`value` (aware) in the fixed offset the camera used."""
    return value.astimezone(timezone(timedelta(minutes=offset_min)))


def all_deployments(conn: Connection) -> list[Deployment]:
    """Every camera the station has heard of, by deployment id."""
    rows = conn.execute(
        select(cameras).order_by(cameras.c.agent_id, cameras.c.site, cameras.c.camera)
    )
    return [
        Deployment(
            r.id,
            deployment_id(r.agent_id, r.site, r.camera),
            r.agent_id,
            r.site,
            r.camera,
            r.first_captured_at,
            r.last_captured_at,
            r.latitude,
            r.longitude,
            r.coordinate_uncertainty_m,
            r.location_name,
            r.camera_model,
        )
        for r in rows
    ]


def counted_encounters(conn: Connection) -> Iterator[EncounterRecord]:
    """Every counted encounter, oldest first."""
    bears = fleet_bears(conn)
    query = (
        select(encounters, cameras.c.site, cameras.c.camera, individuals.c.individual_id)
        .join(cameras, cameras.c.id == encounters.c.camera_id)
        .outerjoin(individuals, individuals.c.id == encounters.c.individual_ref)
        .where(encounters.c.state != "merged", encounters.c.status != "rejected")
        .order_by(encounters.c.started_at, encounters.c.id)
    )
    for r in conn.execute(query):
        offset = r.started_offset_min
        yield EncounterRecord(
            ref=r.id,
            agent_id=r.agent_id,
            encounter_id=r.encounter_id,
            deployment_id=deployment_id(r.agent_id, r.site, r.camera),
            started_at=local(r.started_at, offset),
            last_captured_at=local(r.last_captured_at, offset),
            chip_count=r.chip_count,
            status=r.status,
            bear=None if r.individual_ref is None else bears.get(r.individual_ref),
            individual_id=r.individual_id,
            score_name=r.score_name,
            score_value=r.score_value,
            similarity=r.similarity,
            known_threshold=r.known_threshold,
            unknown_threshold=r.unknown_threshold,
            model_name=r.model_name,
            processed_at=r.processed_at,
            decided_by=r.decided_by,
            corrected_at=r.corrected_at,
            corrected_by=r.corrected_by,
        )


@dataclass(frozen=True)
class ChipRecord:
    """One chip of a counted encounter: a Camtrap DP media file."""

    agent_id: str
    file: str
    deployment_id: str
    captured_at: datetime  # local time of the camera
    time_source: str


def counted_chips(conn: Connection) -> Iterator[ChipRecord]:
    """Every chip of a counted encounter that no person rejected, by capture time."""
    query = (
        select(
            sightings.c.agent_id,
            sightings.c.file,
            sightings.c.captured_at,
            sightings.c.captured_offset_min,
            sightings.c.time_source,
            cameras.c.site,
            cameras.c.camera,
        )
        .join(encounters, encounters.c.id == sightings.c.encounter_ref)
        .join(cameras, cameras.c.id == encounters.c.camera_id)
        .where(
            encounters.c.state != "merged",
            encounters.c.status != "rejected",
            sightings.c.rejected.is_(False),
        )
        .order_by(sightings.c.captured_at, sightings.c.id)
    )
    for r in conn.execute(query):
        yield ChipRecord(
            r.agent_id,
            r.file,
            deployment_id(r.agent_id, r.site, r.camera),
            local(r.captured_at, r.captured_offset_min),
            r.time_source,
        )


def mtime_dated_deployments(conn: Connection) -> set[str]:
    """Deployments with a chip dated by its file's mtime (Camtrap DP's timestampIssues)."""
    query = (
        select(cameras.c.agent_id, cameras.c.site, cameras.c.camera)
        .distinct()
        .join(encounters, encounters.c.camera_id == cameras.c.id)
        .join(sightings, sightings.c.encounter_ref == encounters.c.id)
        .where(sightings.c.time_source == "mtime")
    )
    return {deployment_id(*r) for r in conn.execute(query)}


@dataclass(frozen=True)
class BlankRecord:
    """A frame a box's detector found empty: a Camtrap DP media file and blank observation."""

    agent_id: str
    file: str
    deployment_id: str
    captured_at: datetime  # local time of the camera
    time_source: str


def blank_records(conn: Connection) -> Iterator[BlankRecord]:
    """Every blank frame, by capture time."""
    query = select(blank_frames).order_by(blank_frames.c.captured_at, blank_frames.c.id)
    for r in conn.execute(query):
        yield BlankRecord(
            r.agent_id,
            r.file,
            deployment_id(r.agent_id, r.site, r.camera),
            local(r.captured_at, r.captured_offset_min),
            r.time_source,
        )
