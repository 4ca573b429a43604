"""`bear-station export secr` against a hand-built example, on SQLite and PostgreSQL.

R cannot be installed here, so the files are checked against the formats as the packages
document them, and read back by small readers that follow those documented rules.

secr, vignette "Data input for secr" (secr-datainput), capture data in trapID format:

    # Session ID Occasion Detector
    MatakitakiStoats 2 1 A12
    MatakitakiStoats 2 2 A12
    MatakitakiStoats 9 2 A4

"one detection record per line ... a session identifier, an animal identifier, an occasion
number, and ... a detector (trap) identifier that matches a detector in the trap layout
file"; for count detectors "Count data are input by repeating each line in the capture
data the required number of times". The detector layout with usage:

    # Detector X Y Usage
     A1   -1500   -1500   0011111
     A4   -1500    -750   1111100

"A string of ones and zeros is added to each line ... Codes may be separated by white
space", or numeric effort per occasion, "0 0 3.2 5", read with `binary.usage = FALSE`
(read.traps pastes the usage fields together and reads each character, any code above 0
as used). "Coordinates must relate to a Cartesian (rectangular, projected) coordinate
system." "Identifiers may be numeric values or alphanumeric values with no included
spaces, tabs or commas. The underscore character should not be used in detector (trap)
identifiers."

oSCR, help of `data2oscr`: edf "Encounter data file having basic information about
session, individual, occasion, trap" (columns chosen by sess.col, id.col, occ.col,
trap.col); tdf "Each element should be a trap deployment file. Necessary format: Trap ID,
Xcoord, Ycoord, trap deployment columns"; its example
`data2oscr(rbind(edf1,edf2), sex.col=5, K=c(44,96), ntraps=c(23,23), tdf=list(tdf1,tdf2))`.
In its source, trap names are matched to the tdf's first column, occasions to 1:K, and
each edf row adds one to y3d[individual, trap, occasion].
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from pyproj import Geod, Transformer
from sqlalchemy import Engine

from bearagent.decisions import Outcome
from bearstation.cli import main
from bearstation.errors import ExportError
from bearstation.exports.operation import camera_days
from bearstation.exports.projection import choose_projection, utm_zone
from bearstation.exports.secr import SecrOptions, unique_ids
from bearstation.exports.secr_files import export_secr
from bearstation.ingest.registry import set_status
from bearstation.locations import Place, locate
from support.station_payloads import EEST, FakeBox, Message
from support.station_world import fresh_engine, ingest

PLACES = {  # den-01's cam01 stands on zone 35's central meridian: x is 500 000 m exactly
    "den-01/kuhmo/cam01": (64.0, 27.0),
    "den-01/kuhmo/cam02": (64.05, 27.1),
    "den-02/kuhmo/cam01": (63.98, 27.2),
}
TRAPS = ["den-01.kuhmo.cam01", "den-01.kuhmo.cam02", "den-02.kuhmo.cam01"]
ANIMALS = ["Otis", "unknown-den-01-0001", "unknown-den-02-0001"]


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 6, day, hour, minute, tzinfo=EEST)


def stats(box: FakeBox, sent_at: datetime, uptime_s: float) -> Message:
    topic, payload = box.stats(sent_at)
    body = json.loads(payload)
    body["uptime_s"] = uptime_s
    return topic, json.dumps(body)


def week() -> list[Message]:
    """Monday 1 June to Sunday 7 June 2026; the expected files are written out below."""
    north, south = FakeBox("den-01"), FakeBox("den-02")
    return [
        *north.encounter("cam01", at(1, 6), individual="bear-0001", name="Otis"),
        *north.encounter("cam01", at(1, 18), individual="bear-0001", name="Otis"),  # again
        *north.encounter("cam02", at(2, 10), individual=None, outcome=Outcome.UNKNOWN),
        *north.encounter("cam01", at(3, 9), individual="bear-0001", name="Otis"),
        # 01:30 local on the 4th is the 3rd in UTC: the local day counts.
        *north.encounter("cam02", at(4, 1, 30), individual="bear-0001", name="Otis"),
        *south.encounter("cam01", at(5, 9), individual="bear-0003", name="Otis"),  # by name
        *south.encounter("cam01", at(6, 12), individual=None, outcome=Outcome.REVIEW),
        *south.encounter("cam01", at(7, 8), individual=None, outcome=Outcome.UNKNOWN),
        # den-01's agent ran from the 3rd 21:00 to the 5th 09:00 (local): days 3, 4, 5.
        stats(north, at(5, 9), uptime_s=36 * 3600),
    ]


@pytest.fixture
def surveyed(station_db: str) -> Engine:
    engine = fresh_engine(station_db)
    assert set(ingest(engine, week())) == {"stored"}
    for deployment, (lat, lon) in PLACES.items():
        locate(engine, deployment, Place(lat, lon))
    return engine


def utm35(deployment: str) -> str:
    lat, lon = PLACES[deployment]
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:32635", always_xy=True).transform(lon, lat)
    return f"{x:.2f} {y:.2f}"


def test_the_files_match_the_hand_built_example(surveyed: Engine, tmp_path: Path) -> None:
    export_secr(surveyed, tmp_path, SecrOptions(session="kuhmo-2026"))
    assert (tmp_path / "captures.txt").read_text() == (
        "# Session ID Occasion Detector\n"
        "kuhmo-2026 Otis 1 den-01.kuhmo.cam01\n"
        "kuhmo-2026 Otis 1 den-01.kuhmo.cam01\n"
        "kuhmo-2026 unknown-den-01-0001 2 den-01.kuhmo.cam02\n"
        "kuhmo-2026 Otis 3 den-01.kuhmo.cam01\n"
        "kuhmo-2026 Otis 4 den-01.kuhmo.cam02\n"
        "kuhmo-2026 Otis 5 den-02.kuhmo.cam01\n"
        "kuhmo-2026 unknown-den-02-0001 7 den-02.kuhmo.cam01\n"
    )
    assert utm35("den-01/kuhmo/cam01").startswith("500000.00 ")
    # cam01: chips on days 1 and 3, none on 2 and its box not yet running: 1 0 1.
    # den-01/cam02: chips on 2 and 4, its box running on 3: 1 1 1 from day 2.
    # den-02/cam01: chips on 5, 6 (an encounter in review is a chip too) and 7.
    assert (tmp_path / "traps.txt").read_text().splitlines() == [
        "# bearid cameras as detectors, EPSG:32635 (WGS 84 / UTM zone 35N), x and y in metres",
        "# usage: days operating in each occasion (one day; occasions.csv dates them)",
        "# Detector X Y Usage",
        f"den-01.kuhmo.cam01 {utm35('den-01/kuhmo/cam01')} 1 0 1 0 0 0 0",
        f"den-01.kuhmo.cam02 {utm35('den-01/kuhmo/cam02')} 0 1 1 1 0 0 0",
        f"den-02.kuhmo.cam01 {utm35('den-02/kuhmo/cam01')} 0 0 0 0 1 1 1",
    ]
    expected = np.zeros((3, 3, 7), int)  # animal x trap x occasion
    for animal, trap, occasion, n in [
        ("Otis", 0, 1, 2),
        ("Otis", 0, 3, 1),
        ("Otis", 1, 4, 1),
        ("Otis", 2, 5, 1),
        ("unknown-den-01-0001", 1, 2, 1),
        ("unknown-den-02-0001", 2, 7, 1),
    ]:
        expected[ANIMALS.index(animal), trap, occasion - 1] = n
    traps = read_traps(tmp_path / "traps.txt")
    assert traps.ids == TRAPS
    assert np.array_equal(read_capthist(tmp_path / "captures.txt", traps), expected)
    y3d, operation = data2oscr(tmp_path / "oscr_edf.csv", tmp_path / "oscr_tdf.csv", K=7)
    assert np.array_equal(y3d, expected)
    assert np.array_equal(operation, traps.usage)  # 0/1 here: day occasions

    assert csv_rows(tmp_path / "occasions.csv")[0] == ["occasion", "label", "first_day", "last_day"]
    assert csv_rows(tmp_path / "occasions.csv")[1] == [
        "1",
        "2026-06-01",
        "2026-06-01",
        "2026-06-01",
    ]
    assert csv_rows(tmp_path / "individuals.csv")[1:] == [
        ["Otis", "Otis", "true", "5"],
        ["unknown-den-01-0001", "unknown-den-01-0001", "false", "1"],
        ["unknown-den-02-0001", "unknown-den-02-0001", "false", "1"],
    ]
    detectors = {r[0]: r for r in csv_rows(tmp_path / "detectors.csv")[1:]}
    assert detectors["den-02.kuhmo.cam01"][1:4] == ["den-02/kuhmo/cam01", "63.98", "27.2"]
    assert "binary.usage = FALSE" in (tmp_path / "README.md").read_text()


def test_weeks_named_only_a_range_and_the_span_rule(surveyed: Engine, tmp_path: Path) -> None:
    export_secr(surveyed, tmp_path / "w", SecrOptions(occasion="week"))
    traps = read_traps(tmp_path / "w" / "traps.txt", binary_usage=False)
    assert traps.usage.tolist() == [[2], [3], [3]]  # days operating in ISO week 23
    assert read_traps(tmp_path / "w" / "traps.txt").usage.tolist() == [[1], [1], [1]]
    counts = read_capthist(tmp_path / "w" / "captures.txt", traps)
    assert counts.sum(axis=(1, 2)).tolist() == [5, 1, 1]
    assert csv_rows(tmp_path / "w" / "oscr_tdf.csv")[1][3:] == ["1"]

    export_secr(surveyed, tmp_path / "n", SecrOptions(named_only=True, first=at(2, 0).date()))
    lines = (tmp_path / "n" / "captures.txt").read_text().splitlines()[1:]
    assert lines == [
        "bearid Otis 2 den-01.kuhmo.cam01",
        "bearid Otis 3 den-01.kuhmo.cam02",
        "bearid Otis 4 den-02.kuhmo.cam01",
    ]
    assert read_traps(tmp_path / "n" / "traps.txt").usage.shape == (3, 6)

    export_secr(surveyed, tmp_path / "s", SecrOptions(usage="span"))
    assert read_traps(tmp_path / "s" / "traps.txt").usage.tolist() == [
        [1, 1, 1, 0, 0, 0, 0],
        [0, 1, 1, 1, 0, 0, 0],
        [0, 0, 0, 0, 1, 1, 1],
    ]


def test_a_box_online_counts_as_running_until_last_heard(station_db: str) -> None:
    engine = fresh_engine(station_db)
    box = FakeBox("den-01")
    ingest(engine, box.encounter("cam01", at(1, 6), individual="bear-0001"))
    ingest(engine, box.encounter("cam01", at(6, 6), individual="bear-0001"))
    with engine.begin() as conn:
        set_status(conn, "den-01", True, at(2, 12))  # online since the 2nd at noon,
        # last heard from on the 4th at noon (local): running on the 2nd, 3rd and 4th.
        conn.exec_driver_sql("UPDATE boxes SET last_seen_at = '2026-06-04 09:00:00'")
    with engine.connect() as conn:
        (camera,) = camera_days(conn)
    assert sorted(d.day for d in camera.operating()) == [1, 2, 3, 4, 6]
    assert sorted(d.day for d in camera.operating("span")) == [1, 2, 3, 4, 5, 6]


def test_projection_is_utm_of_the_cameras_centre_in_metres() -> None:
    projection = choose_projection(list(PLACES.values()))
    assert projection.description == "EPSG:32635 (WGS 84 / UTM zone 35N)"
    points = list(PLACES.values())
    xy = projection.project(points)
    assert xy[0][0] == pytest.approx(500_000.0, abs=1e-6)  # the central meridian
    geod = Geod(ellps="WGS84")
    for i in range(3):
        for j in range(i + 1, 3):
            _az, _back, metres = geod.inv(points[i][1], points[i][0], points[j][1], points[j][0])
            grid = float(np.hypot(xy[i][0] - xy[j][0], xy[i][1] - xy[j][1]))
            assert 0.9996 <= grid / metres <= 1.0004  # UTM's scale factor near the meridian
    assert utm_zone(64.1, 29.5) == (35, True)  # Kuhmo
    assert utm_zone(60.4, 5.3) == (32, True)  # Bergen: Norway's wide zone 32
    assert utm_zone(78.2, 15.6) == (33, True)  # Longyearbyen, Svalbard
    assert utm_zone(44.6, -110.5) == (12, True)  # Yellowstone
    assert choose_projection([(-41.3, 174.8)]).crs.to_epsg() == 32760
    assert choose_projection([], zone="33n").crs.to_epsg() == 32633
    assert choose_projection([], crs="EPSG:3067").description == "EPSG:3067 (ETRS89 / TM35FIN(E,N))"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"utm_zone": "61N"},
            "--utm-zone '61N': write a zone 1-60 and N or S, e.g. 33N (Scandinavia) or 11N "
            "(the Rockies)",
        ),
        (
            {"crs": "EPSG:4326"},
            "--crs 'EPSG:4326' (WGS 84) is not projected in metres (axes in degree): spatial "
            "capture-recapture needs metres, e.g. a UTM zone (EPSG:326NN north, 327NN south)",
        ),
        ({"crs": "EPSG:32633", "utm_zone": "33N"}, "give --crs or --utm-zone, not both"),
        (
            {"session": "Kuhmo 2026"},
            "--session 'Kuhmo 2026': secr reads letters, digits, '.' and '-' only (no spaces or "
            "commas), e.g. kuhmo-2026",
        ),
        (
            {"first": at(20, 0).date()},
            "the range ends (2026-06-07) before it starts (2026-06-20)",
        ),
    ],
)
def test_mistakes_are_refused_with_the_fix(
    surveyed: Engine, tmp_path: Path, options: dict[str, object], message: str
) -> None:
    with pytest.raises(ExportError) as e:
        export_secr(surveyed, tmp_path / "out", SecrOptions(**options))  # type: ignore[arg-type]
    assert str(e.value) == message
    assert not (tmp_path / "out").exists()


def test_cameras_without_coordinates_are_named(station_db: str, tmp_path: Path) -> None:
    engine = fresh_engine(station_db)
    ingest(engine, week())
    locate(engine, "den-01/kuhmo/cam01", Place(64.0, 27.0))
    with pytest.raises(ExportError) as e:
        export_secr(engine, tmp_path, SecrOptions())
    assert str(e.value) == (
        "spatial capture-recapture needs the coordinates of every camera that operated; these "
        "have none: den-01/kuhmo/cam02, den-02/kuhmo/cam01. Set them with 'bear-station locate "
        "den-01/kuhmo/cam02 --lat LAT --lon LON' (or --csv FILE for many)"
    )


def test_ids_are_made_safe_and_unique() -> None:
    assert unique_ids(["den_01/a b/cam", "den-01/a-b/cam"], r"[^A-Za-z0-9.-]+", "-") == [
        "den-01-a-b-cam",
        "den-01-a-b-cam-2",
    ]
    assert unique_ids(["Otis / Otto", "Big Mama,"], r"[^A-Za-z0-9.-]+", "_") == [
        "Otis_Otto",
        "Big_Mama",
    ]


def test_the_command_writes_the_folder(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'station.db'}"
    engine = fresh_engine(db)
    ingest(engine, week())
    for deployment, (lat, lon) in PLACES.items():
        locate(engine, deployment, Place(lat, lon))
    engine.dispose()
    out = tmp_path / "secr"
    result = CliRunner().invoke(
        main,
        ["export", "secr", str(out), "--db", db, "--occasion", "week", "--utm-zone", "34N"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"wrote {out}: 3 detectors, 1 occasions, 3 individuals, 7 detections "
        "(EPSG:32634 (WGS 84 / UTM zone 34N))\n"
    )
    written = {"README.md", "captures.txt", "traps.txt", "oscr_edf.csv", "oscr_tdf.csv"}
    written |= {"occasions.csv", "detectors.csv", "individuals.csv"}
    assert {p.name for p in out.iterdir()} == written


# Readers following the packages' documented rules (see the module docstring).


class Traps:
    """What secr::read.traps makes of a trap file: ids, coordinates, usage."""

    def __init__(self, ids: list[str], xy: np.ndarray, usage: np.ndarray) -> None:
        self.ids, self.xy, self.usage = ids, xy, usage


def fields(path: Path) -> list[list[str]]:
    """Lines split on white space, '#' starting a comment, blank lines skipped."""
    rows = [line.split("#", 1)[0].split() for line in path.read_text().splitlines()]
    return [r for r in rows if r]


def read_traps(path: Path, binary_usage: bool = True) -> Traps:
    rows = fields(path)
    assert len({len(r) for r in rows}) == 1, "count.fields: lines of unequal length"
    ids = [r[0] for r in rows]
    assert len(set(ids)) == len(ids), "duplicate detector ids (read.table row.names)"
    assert not any(c in i for i in ids for c in "_,"), "no underscores or commas in trap ids"
    xy = np.array([[float(r[1]), float(r[2])] for r in rows])
    if binary_usage:
        codes = ["".join(r[3:]) for r in rows]
        assert len({len(c) for c in codes}) == 1, "'usage' fields suggest varying occasions"
        usage = np.array([[int(ch > "0") for ch in c] for c in codes])
    else:
        usage = np.array([[float(v) for v in r[3:]] for r in rows])
    return Traps(ids, xy, usage)


def read_capthist(path: Path, traps: Traps) -> np.ndarray:
    """Counts animal x trap x occasion of a trapID-format capture file (count detector)."""
    rows = fields(path)
    assert all(len(r) == 4 for r in rows) and len({r[0] for r in rows}) == 1  # one session
    animals = sorted({r[1] for r in rows})
    assert all(" " not in a and "," not in a for a in animals)
    occasions = traps.usage.shape[1]
    counts = np.zeros((len(animals), len(traps.ids), occasions), int)
    for _session, animal, occasion, trap in rows:
        k = int(occasion)
        assert 1 <= k <= occasions and trap in traps.ids, (occasion, trap)
        j = traps.ids.index(trap)
        assert traps.usage[j, k - 1] > 0, f"detection at {trap}, unused on occasion {k}"
        counts[animals.index(animal), j, k - 1] += 1
    return counts


def csv_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text())))


def data2oscr(edf: Path, tdf: Path, K: int) -> tuple[np.ndarray, np.ndarray]:
    """y3d (individual x trap x occasion) and trap operation, as oSCR's data2oscr builds them."""
    encounters = csv_rows(edf)[1:]
    deployment = csv_rows(tdf)[1:]
    names = [r[0] for r in deployment]
    operation = np.array([[int(v) for v in r[3:]] for r in deployment])
    assert operation.shape == (len(names), K)
    individuals = sorted({r[1] for r in encounters})  # as.numeric(as.factor(id))
    y3d = np.zeros((len(individuals), len(names), K), int)
    for _session, individual, occasion, trap in encounters:
        assert trap in names and int(occasion) in range(1, K + 1)
        y3d[individuals.index(individual), names.index(trap), int(occasion) - 1] += 1
    assert Counter(r[0] for r in encounters) == Counter({encounters[0][0]: len(encounters)})
    return y3d, operation
