"""Frames a box's detector found empty reach the station as ``blank`` messages and become
Camtrap DP blank observations (media level), validated by frictionless; a frame reported
twice is stored once, and a camera that only ever saw blanks is a deployment too."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, func, select

from bearagent.mqtt import outbox
from bearagent.wire.media_payloads import BlankRef, blank_payload
from bearstation.config import ExportConfig
from bearstation.exports.camtrap_dp import export_camtrap_dp
from bearstation.locations import Place, locate
from bearstation.tables import blank_frames
from support.station_payloads import EEST, FakeBox
from support.station_world import fresh_engine, ingest
from test_station_exports import offline_package, read_csv

STREAM = str(uuid.uuid4())
_seq = itertools.count(1)


def blanks(*frames: tuple[str, str, datetime]) -> str:
    """A ``blank`` message as the box's outbox sends it (stamped with stream and seq)."""
    refs = [
        BlankRef(f"kuhmo/{cam}/{name}", "kuhmo", cam, when, "exif") for cam, name, when in frames
    ]
    return outbox.stamped(blank_payload("den-01", refs, "bearface-v1"), STREAM, next(_seq))


def test_blank_frames_are_blank_observations_in_the_package(
    station_db: str, tmp_path: Path
) -> None:
    engine: Engine = fresh_engine(station_db)
    at = datetime(2026, 6, 1, 6, 0, tzinfo=EEST)
    empty = blanks(("cam01", "IMG_0001.JPG", at), ("cam09", "IMG_0100.JPG", at))
    messages = [
        *FakeBox("den-01").encounter("cam01", at, individual="bear-0001", name="Otis"),
        ("bearid/den-01/blank", empty),
        ("bearid/den-01/blank", blanks(("cam01", "IMG_0001.JPG", at))),  # reported again
    ]
    assert ingest(engine, messages)[-2:] == ["stored", "stored"]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(blank_frames)).scalar_one() == 2
    for camera in ("cam01", "cam09"):  # cam09 saw only blanks: still a deployment
        locate(engine, f"den-01/kuhmo/{camera}", Place(64.1, 29.5))
    out = tmp_path / "package"
    summary = export_camtrap_dp(engine, out, ExportConfig())
    assert (summary.deployments, summary.observations) == (2, 3)
    report = offline_package(out).validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    observations = read_csv(out / "observations.csv")
    blank = [o for o in observations if o["observationType"] == "blank"]
    assert len(blank) == 2 and {o["observationLevel"] for o in blank} == {"media"}
    media = {m["mediaID"]: m for m in read_csv(out / "media.csv")}
    assert all(o["mediaID"] in media for o in blank)
    assert {media[o["mediaID"]]["fileName"] for o in blank} == {"IMG_0001.JPG", "IMG_0100.JPG"}
