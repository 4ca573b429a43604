"""Exports from a real database (SQLite and PostgreSQL): the Camtrap DP package passes
frictionless' validation against the Camtrap DP 1.0 table schemas kept in the package, the
capture history matches one built by hand, two boxes' first strangers stay two bears until
linked, and the report writes its plots and summary."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import frictionless
import pytest
from jsonschema import Draft202012Validator
from PIL import Image
from sqlalchemy import Engine

from bearagent.decisions import Outcome
from bearstation.config import ExportConfig
from bearstation.errors import ExportError, IdentityError
from bearstation.exports.camtrap_dp import export_camtrap_dp, media_path
from bearstation.exports.capture_history import export_capture_history
from bearstation.exports.schemas import package_profile_path, schema_path
from bearstation.identities import all_links, link, unlink
from bearstation.locations import Place, locate
from bearstation.report import write_report
from support.station_payloads import EEST, FakeBox, Message
from support.station_world import fresh_engine, ingest

DAY = [f"2026-06-{d:02d}" for d in range(1, 9)]


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 6, day, hour, minute, tzinfo=EEST)


def fleet() -> list[Message]:
    """Two boxes' week; see the expected matrices in the tests."""
    north, south = FakeBox("den-01"), FakeBox("den-02")
    return [
        *north.encounter("cam01", at(1, 6), individual="bear-0001", name="Otis"),
        *north.encounter("cam02", at(2, 10), individual=None, outcome=Outcome.UNKNOWN),
        *north.encounter("cam01", at(2, 12), individual=None, outcome=Outcome.REVIEW),
        *north.encounter("cam01", at(3, 23, 30), individual="bear-0001", name="Otis"),
        # 01:30 local on the 4th is 22:30 UTC on the 3rd: the local day counts.
        *north.encounter("cam01", at(4, 1, 30), individual="bear-0001", name="Otis"),
        *south.encounter("cam01", at(5, 9), individual="bear-0003", name="Otis"),
        *south.encounter("cam01", at(2, 20), individual=None, outcome=Outcome.UNKNOWN),
        *south.encounter("cam01", at(8, 7), individual="unknown-den-02-0001"),
    ]


@pytest.fixture
def filled(station_db: str) -> Engine:
    engine = fresh_engine(station_db)
    assert set(ingest(engine, fleet())) == {"stored"}
    return engine


def place_all(engine: Engine) -> None:
    locate(engine, "den-01/kuhmo/cam01", Place(64.12, 29.51, 25, "Kuhmo ridge"))
    locate(engine, "den-01/kuhmo/cam02", Place(64.13, 29.55))
    locate(engine, "den-02/kuhmo/cam01", Place(63.98, 29.90, camera_model="Reconyx HF2X"))


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def offline_package(directory: Path) -> frictionless.Package:
    """The exported package with each table's schema taken from our copy of Camtrap DP 1.0
    (the descriptor names the published URLs, which a test cannot fetch)."""
    descriptor: dict[str, Any] = json.loads((directory / "datapackage.json").read_text())
    descriptor.pop("profile")  # checked against package-profile.json instead
    for resource in descriptor["resources"]:
        resource["schema"] = json.loads(schema_path(resource["name"]).read_text())
    return frictionless.Package(descriptor, basepath=str(directory))


def test_camtrap_dp_package_passes_frictionless_validation(filled: Engine, tmp_path: Path) -> None:
    place_all(filled)
    out = tmp_path / "package"
    summary = export_camtrap_dp(filled, out, ExportConfig(project_title="Kuhmo bears 2026"))
    assert (summary.deployments, summary.media, summary.observations) == (3, 24, 8)
    report = offline_package(out).validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    descriptor = json.loads((out / "datapackage.json").read_text())
    profile = json.loads(package_profile_path().read_text())
    assert list(Draft202012Validator(profile).iter_errors(descriptor)) == []
    assert descriptor["temporal"] == {"start": "2026-06-01", "end": "2026-06-08"}
    assert descriptor["spatial"]["type"] == "Polygon"
    assert descriptor["project"]["individualAnimals"] is True

    deployments = {r["deploymentID"]: r for r in read_csv(out / "deployments.csv")}
    assert sorted(deployments) == ["den-01/kuhmo/cam01", "den-01/kuhmo/cam02", "den-02/kuhmo/cam01"]
    north = deployments["den-01/kuhmo/cam01"]
    assert (north["deploymentStart"], north["deploymentEnd"]) == (
        "2026-06-01T03:00:00Z",
        "2026-06-03T22:30:08Z",
    )
    assert (north["latitude"], north["coordinateUncertainty"], north["locationName"]) == (
        "64.12",
        "25",
        "Kuhmo ridge",
    )
    observations = read_csv(out / "observations.csv")
    assert {o["observationType"] for o in observations} == {"animal"}
    assert {o["scientificName"] for o in observations} == {"Ursus arctos"}
    assert sorted(o["individualID"] for o in observations) == [
        "",  # the encounter in review: nobody decided yet
        "Otis",
        "Otis",
        "Otis",
        "Otis",  # den-02's bear-0003 is Otis too: linked by name
        "unknown-den-01-0001",
        "unknown-den-02-0001",
        "unknown-den-02-0001",
    ]
    first = next(o for o in observations if o["eventStart"] == "2026-06-01T06:00:00+03:00")
    assert first["eventEnd"] == "2026-06-01T06:00:08+03:00"
    assert (first["classificationMethod"], first["classificationProbability"]) == (
        "machine",
        "0.8100",
    )
    media = read_csv(out / "media.csv")
    assert len({m["mediaID"] for m in media}) == 24
    assert media[0]["filePath"] == "den-01/kuhmo/cam01/cam01_20260601-060000_000010.jpg"


def test_frictionless_catches_a_broken_package(filled: Engine, tmp_path: Path) -> None:
    """The validation above can fail: a timestamp without its offset, a deployment unknown."""
    place_all(filled)
    out = tmp_path / "package"
    export_camtrap_dp(filled, out, ExportConfig())
    media = (out / "media.csv").read_text()
    (out / "media.csv").write_text(
        media.replace("2026-06-01T06:00:00+03:00", "2026-06-01 06:00", 1).replace(
            "den-02/kuhmo/cam01", "den-09/nowhere/cam99", 1
        )
    )
    report = offline_package(out).validate()
    kinds = {e[0] for e in report.flatten(["type"])}
    assert kinds == {"type-error", "foreign-key"}


def test_an_export_without_camera_coordinates_says_which_and_how(
    filled: Engine, tmp_path: Path
) -> None:
    locate(filled, "den-01/kuhmo/cam01", Place(64.12, 29.51))
    with pytest.raises(ExportError) as e:
        export_camtrap_dp(filled, tmp_path / "package", ExportConfig())
    assert str(e.value) == (
        "Camtrap DP needs the coordinates of every camera; these have none: "
        "den-01/kuhmo/cam02, den-02/kuhmo/cam01. Set them with 'bear-station locate "
        "den-01/kuhmo/cam02 --lat LAT --lon LON' (or --csv FILE for many)"
    )
    assert not (tmp_path / "package").exists()


def matrix(path: Path) -> tuple[list[str], dict[str, list[int]]]:
    rows = list(csv.reader(path.open(encoding="utf-8")))
    return rows[0], {r[0]: [int(v) for v in r[1:]] for r in rows[1:]}


def test_capture_history_matches_a_hand_built_one_and_follows_links(
    filled: Engine, tmp_path: Path
) -> None:
    days = tmp_path / "days.csv"
    export_capture_history(filled, days, "day")
    header, rows = matrix(days)
    assert header == ["individual", *DAY]
    assert rows == {
        "Otis": [1, 0, 1, 1, 1, 0, 0, 0],
        "unknown-den-01-0001": [0, 1, 0, 0, 0, 0, 0, 0],
        "unknown-den-02-0001": [0, 1, 0, 0, 0, 0, 0, 1],
    }
    weeks = tmp_path / "weeks.csv"
    export_capture_history(filled, weeks, "week")
    assert matrix(weeks) == (
        ["individual", "2026-W23", "2026-W24"],
        {"Otis": [1, 0], "unknown-den-01-0001": [1, 0], "unknown-den-02-0001": [1, 1]},
    )
    link(filled, "unknown-den-01-0001", "unknown-den-02-0001", by="biologist")
    export_capture_history(filled, days, "day")
    assert matrix(days)[1] == {
        "Otis": [1, 0, 1, 1, 1, 0, 0, 0],
        "unknown-den-01-0001": [0, 1, 0, 0, 0, 0, 0, 1],
    }
    mark = tmp_path / "history.inp"
    export_capture_history(filled, mark, "day", named_only=True, fmt="mark")
    assert mark.read_text().splitlines()[1:] == ["/* Otis */ 10111000 1;"]


def test_two_boxes_first_strangers_stay_two_until_linked_and_unlink_is_audited(
    filled: Engine, tmp_path: Path
) -> None:
    history = tmp_path / "h.csv"
    export_capture_history(filled, history, "week")
    assert {"unknown-den-01-0001", "unknown-den-02-0001"} <= set(matrix(history)[1])
    made = link(
        filled, "den-01:unknown-den-01-0001", "unknown-den-02-0001", by="anna", note="same scar"
    )
    export_capture_history(filled, history, "week")
    assert "unknown-den-02-0001" not in matrix(history)[1]
    unlink(filled, "unknown-den-02-0001", "unknown-den-01-0001", by="ben")
    export_capture_history(filled, history, "week")
    assert {"unknown-den-01-0001", "unknown-den-02-0001"} <= set(matrix(history)[1])
    with filled.connect() as conn:
        (audit,) = all_links(conn)
    assert (audit.id, audit.a, audit.b, audit.linked_by, audit.note) == (
        made.id,
        "den-01:unknown-den-01-0001",
        "den-02:unknown-den-02-0001",
        "anna",
        "same scar",
    )
    assert audit.unlinked_by == "ben" and audit.unlinked_at is not None


def test_links_that_make_no_sense_are_refused_with_the_reason(filled: Engine) -> None:
    def refused(a: str, b: str) -> str:
        with pytest.raises(IdentityError) as e:
            link(filled, a, b, by="x")
        return str(e.value)

    assert refused("den-01:bear-0001", "unknown-den-01-0001") == (
        "den-01:bear-0001 and den-01:unknown-den-01-0001 are on the same box: merge them on "
        "that box's review page (or 'bearagent gallery promote'), and the box tells the station"
    )
    assert refused("den-01:bear-0001", "den-02:bear-0003") == (
        "den-01:bear-0001 and den-02:bear-0003 are already one individual (Otis)"
    )
    assert refused("bear-0009", "unknown-den-02-0001") == (
        "no individual 'bear-0009' at the station: see 'bear-station individuals' "
        "(write AGENT:ID, e.g. den-01:bear-0004)"
    )
    link(filled, "unknown-den-01-0001", "den-02:bear-0003", by="x")
    with pytest.raises(IdentityError, match="not linked at the station"):
        unlink(filled, "unknown-den-01-0001", "unknown-den-02-0001", by="x")


def test_report_writes_three_plots_and_a_summary(filled: Engine, tmp_path: Path) -> None:
    written = write_report(filled, tmp_path / "report")
    names = sorted(p.name for p in written.files)
    assert names == [
        "new_individuals_per_week.png",
        "sightings_over_time.png",
        "sightings_per_camera.png",
        "summary.md",
    ]
    for png in (p for p in written.files if p.suffix == ".png"):
        with Image.open(png) as image:
            assert image.format == "PNG" and image.width > 300
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert "- encounters counted: 8 (known 5, unknown 2, in review 1)" in summary
    assert "- individuals: 3 (1 named, 2 provisional)" in summary
    assert "| Otis | 4 | 2026-06-01 | 2026-06-05 |" in summary


def test_chips_dated_by_mtime_flag_their_deployment(station_db: str, tmp_path: Path) -> None:
    engine = fresh_engine(station_db)
    box = FakeBox("den-01")
    ingest(engine, box.encounter("cam01", at(1, 6), individual="bear-0001", time_source="mtime"))
    ingest(engine, box.encounter("cam02", at(1, 6), individual="bear-0001"))
    locate(engine, "den-01/kuhmo/cam01", Place(64.1, 29.5))
    locate(engine, "den-01/kuhmo/cam02", Place(64.2, 29.5))
    export_camtrap_dp(engine, tmp_path / "p", ExportConfig())
    issues = {
        r["deploymentID"]: r["timestampIssues"] for r in read_csv(tmp_path / "p/deployments.csv")
    }
    assert issues == {"den-01/kuhmo/cam01": "true", "den-01/kuhmo/cam02": "false"}
    comments = {r["mediaComments"] for r in read_csv(tmp_path / "p/media.csv")}
    assert comments == {"capture time from the file's mtime", ""}


def test_media_paths_are_valid_camtrap_paths() -> None:
    assert media_path("den-01", "site/cam 1/a..b.jpg") == "den-01/site/cam%201/a%2E%2Eb.jpg"


def test_an_empty_station_exports_nothing_and_says_so(station_db: str, tmp_path: Path) -> None:
    engine = fresh_engine(station_db)
    with pytest.raises(ExportError, match="no events yet"):
        export_camtrap_dp(engine, tmp_path / "p", ExportConfig())
    with pytest.raises(ExportError, match="capture history would be empty"):
        export_capture_history(engine, tmp_path / "h.csv", "day")
