"""Camera coordinates in projected metres, as spatial capture-recapture wants them.

The station keeps WGS 84 latitude and longitude (`bear-station locate`). The
projection is a UTM zone: the one holding the centre of the cameras (the mean of
their latitudes and longitudes, with the standard exceptions of southern Norway
and Svalbard), or the zone the user names (``33N``), or any projected coordinate
system in metres the user names (``EPSG:3067``). pyproj (PROJ) does the maths.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from bearstation.errors import ExportError

WGS84 = "EPSG:4326"
_ZONE = re.compile(r"(\d{1,2})\s*([NS])", re.IGNORECASE)


@dataclass(frozen=True)
class Projection:
    """A projected coordinate system in metres, and how to get there from WGS 84."""

    crs: CRS

    @property
    def description(self) -> str:
        """``EPSG:32635 (WGS 84 / UTM zone 35N)``, or the system's name alone."""
        code = self.crs.to_epsg()
        return f"EPSG:{code} ({self.crs.name})" if code else self.crs.name

    def project(self, points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
        """(x, y) in metres of each (latitude, longitude)."""
        transformer = Transformer.from_crs(WGS84, self.crs, always_xy=True)
        projected = []
        for lat, lon in points:
            x, y = transformer.transform(lon, lat)
            if not (math.isfinite(x) and math.isfinite(y)):
                raise ExportError(
                    f"the camera at {lat}, {lon} lies outside what {self.description} can "
                    "project: name a coordinate system that covers it (--crs or --utm-zone)"
                )
            projected.append((float(x), float(y)))
        return projected


def utm_zone(lat: float, lon: float) -> tuple[int, bool]:
    """The UTM zone (1-60) holding a point, and whether it is a northern one."""
    if not -80.0 <= lat <= 84.0:
        raise ExportError(
            f"latitude {lat} is outside the UTM zones (80 S to 84 N): name a polar "
            "coordinate system with --crs (e.g. EPSG:32661, UPS North)"
        )
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    if 56.0 <= lat < 64.0 and 3.0 <= lon < 12.0:
        zone = 32  # south-western Norway
    elif lat >= 72.0 and 0.0 <= lon < 42.0:
        zone = 31 if lon < 9.0 else 33 if lon < 21.0 else 35 if lon < 33.0 else 37  # Svalbard
    return zone, lat >= 0.0


def utm_crs(zone: int, north: bool) -> CRS:
    """WGS 84 / UTM zone `zone` N or S."""
    return CRS.from_epsg((32600 if north else 32700) + zone)


def parse_utm_zone(text: str) -> CRS:
    """``33N`` or ``33S`` as its WGS 84 / UTM coordinate system."""
    found = _ZONE.fullmatch(text.strip())
    if found is None or not 1 <= int(found.group(1)) <= 60:
        raise ExportError(
            f"--utm-zone {text!r}: write a zone 1-60 and N or S, e.g. 33N (Scandinavia) "
            "or 11N (the Rockies)"
        )
    return utm_crs(int(found.group(1)), found.group(2).upper() == "N")


def parse_crs(text: str) -> CRS:
    """A projected coordinate system in metres the user named (``EPSG:3067``, WKT, PROJ)."""
    try:
        crs = CRS.from_user_input(text)
    except CRSError as e:
        raise ExportError(
            f"--crs {text!r} is not a coordinate system PROJ knows ({e}): e.g. EPSG:32633"
        ) from None
    units = {axis.unit_name for axis in crs.axis_info}
    if not crs.is_projected or units != {"metre"}:
        raise ExportError(
            f"--crs {text!r} ({crs.name}) is not projected in metres (axes in "
            f"{', '.join(sorted(units)) or 'no unit'}): spatial capture-recapture needs "
            "metres, e.g. a UTM zone (EPSG:326NN north, 327NN south)"
        )
    return crs


def choose_projection(
    points: Sequence[tuple[float, float]], *, crs: str | None = None, zone: str | None = None
) -> Projection:
    """The user's coordinate system or UTM zone, else the UTM zone of the points' centre."""
    if crs is not None and zone is not None:
        raise ExportError("give --crs or --utm-zone, not both")
    if crs is not None:
        return Projection(parse_crs(crs))
    if zone is not None:
        return Projection(parse_utm_zone(zone))
    if not points:
        raise ExportError("no camera coordinates to choose a UTM zone from")
    lat = sum(p[0] for p in points) / len(points)
    lon = sum(p[1] for p in points) / len(points)
    return Projection(utm_crs(*utm_zone(lat, lon)))
