"""Where each camera stands: the coordinates Camtrap DP needs, set at the station.

Boxes do not know their coordinates; `bear-station locate AGENT/SITE/CAMERA --lat
--lon` (or a CSV of many) records them on the camera's row, and every later
export uses them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, select, update

from bearstation.errors import StationError
from bearstation.exports.records import all_deployments
from bearstation.tables import cameras

CSV_COLUMNS = ("deploymentID", "latitude", "longitude")
OPTIONAL_COLUMNS = ("coordinateUncertainty", "locationName", "cameraModel")


class LocationError(StationError):
    """An unknown camera, coordinates out of range, or an unreadable CSV."""


@dataclass(frozen=True)
class Place:
    """A camera's coordinates (WGS84) and what else is known of the spot."""

    latitude: float
    longitude: float
    uncertainty_m: int | None = None
    location_name: str | None = None
    camera_model: str | None = None

    def __post_init__(self) -> None:
        if not -90 <= self.latitude <= 90:
            raise LocationError(f"latitude {self.latitude} is not between -90 and 90")
        if not -180 <= self.longitude <= 180:
            raise LocationError(f"longitude {self.longitude} is not between -180 and 180")
        if self.uncertainty_m is not None and self.uncertainty_m < 1:
            raise LocationError(f"coordinate uncertainty {self.uncertainty_m} m must be >= 1")


def _camera_ref(conn: Connection, deployment: str) -> int:
    agent, _, rest = deployment.partition("/")
    site, _, camera = rest.rpartition("/")
    row = conn.execute(
        select(cameras.c.id).where(
            cameras.c.agent_id == agent, cameras.c.site == site, cameras.c.camera == camera
        )
    ).scalar_one_or_none()
    if row is None:
        known = [d.deployment_id for d in all_deployments(conn)]
        hint = ", ".join(known[:8]) if known else "none yet (they appear with a box's events)"
        raise LocationError(
            f"no camera {deployment!r} at the station (write AGENT/SITE/CAMERA); known: {hint}"
        )
    return int(row)


def locate(engine: Engine, deployment: str, place: Place) -> None:
    """Record where the camera `deployment` (``agent/site/camera``) stands."""
    with engine.begin() as conn:
        ref = _camera_ref(conn, deployment)
        conn.execute(
            update(cameras)
            .where(cameras.c.id == ref)
            .values(
                latitude=place.latitude,
                longitude=place.longitude,
                coordinate_uncertainty_m=place.uncertainty_m,
                location_name=place.location_name,
                camera_model=place.camera_model,
            )
        )


def locate_from_csv(engine: Engine, path: Path) -> int:
    """Record every row of a CSV (deploymentID, latitude, longitude, ...); all or nothing."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise LocationError(f"cannot read {path}: {e}") from None
    if not rows or any(c not in rows[0] for c in CSV_COLUMNS):
        raise LocationError(
            f"{path} needs the columns {', '.join(CSV_COLUMNS)} (optional: "
            f"{', '.join(OPTIONAL_COLUMNS)})"
        )
    places = [(line, r["deploymentID"], _place(path, line, r)) for line, r in enumerate(rows, 2)]
    with engine.begin() as conn:
        for line, deployment, place in places:
            try:
                ref = _camera_ref(conn, deployment)
            except LocationError as e:
                raise LocationError(f"{path} line {line}: {e}") from None
            conn.execute(
                update(cameras)
                .where(cameras.c.id == ref)
                .values(
                    latitude=place.latitude,
                    longitude=place.longitude,
                    coordinate_uncertainty_m=place.uncertainty_m,
                    location_name=place.location_name,
                    camera_model=place.camera_model,
                )
            )
    return len(places)


def _place(path: Path, line: int, row: dict[str, str]) -> Place:
    try:
        uncertainty = (row.get("coordinateUncertainty") or "").strip()
        return Place(
            float(row["latitude"]),
            float(row["longitude"]),
            int(uncertainty) if uncertainty else None,
            (row.get("locationName") or "").strip() or None,
            (row.get("cameraModel") or "").strip() or None,
        )
    except (ValueError, LocationError) as e:
        raise LocationError(f"{path} line {line}: {e}") from None
