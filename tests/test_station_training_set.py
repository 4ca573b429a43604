"""`bear-station export training-set` on a real database (SQLite and PostgreSQL) and a real
media folder: the chips a person decided (and, with --min-score, the machine's sure ones)
as <individual>/<chip> with a wildlife-datasets style metadata.csv; rejected chips, chips
without media, undecided ones and repeated bytes are left out and counted; and the set goes
round trip through `bear-train split` (leak-free: no encounter on two sides) and a 1-epoch
`bear-train fit`."""

from __future__ import annotations

import csv
import hashlib
from collections import defaultdict
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import Engine

from bearagent.decisions import Outcome
from bearagent.wire.payloads import Identity
from bearstation.cli import main as bear_station
from bearstation.errors import ExportError
from bearstation.exports.training_set import export_training_set
from bearstation.identities import link
from bearstation.media.records import ChipUpload, store_chip
from bearstation.media.store import MediaStore
from support.station_chips import uploads_of
from support.station_payloads import EEST, FakeBox, Message, encounter_id_of
from support.station_world import fresh_engine, ingest

#: Named bears: (box, id, name, decided by a person?). Otis is on both boxes (one bear by name).
BEARS = [
    ("den-01", "bear-0001", "Otis", True),
    ("den-01", "bear-0002", "Holly", True),
    ("den-02", "bear-0003", "Otis", True),
    ("den-02", "bear-0004", "Bruno", True),
    ("den-01", "bear-0005", "Mira", True),
    ("den-02", "bear-0006", "Kalle", False),  # only the machine's decisions (score 0.42)
]
#: The identity each named bear has in a training set: its fleet id (Otis is den-01's, the
#: first box that named it; events sent before a box upgraded carry box-local ids).
FLEET_ID = {"Otis": "bear-den-01-0001", "Holly": "bear-den-01-0002", "Bruno": "bear-den-02-0004",
            "Mira": "bear-den-01-0005", "Kalle": "bear-den-02-0006"}  # fmt: skip


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 6, day, hour, 0, tzinfo=EEST)


def confirm(box: FakeBox, messages: list[Message], after: Identity) -> Message:
    before = Identity(after.status, after.individual_id, after.name)
    return box.correction(
        "confirm", encounter_id=encounter_id_of(messages), before=before, after=after
    )


class Fleet:
    """Two boxes' summer: events, corrections, and the chips each box sent (or did not)."""

    def __init__(self) -> None:
        self.boxes = {"den-01": FakeBox("den-01"), "den-02": FakeBox("den-02")}
        self.messages: list[Message] = []
        self.uploads: list[ChipUpload] = []
        self.expected: dict[str, int] = defaultdict(int)  # identity -> chips in the set

    def encounter(self, agent: str, day: int, hour: int, **kwargs: Any) -> list[Message]:
        camera = "cam01" if day % 2 else "cam02"
        events = self.boxes[agent].encounter(camera, at(day, hour), **kwargs)
        self.messages += events
        self.uploads += uploads_of(events, seed=len(self.uploads))
        return events

    def decided(self, agent: str, events: list[Message], after: Identity) -> None:
        self.messages.append(confirm(self.boxes[agent], events, after))


def build_fleet() -> Fleet:
    fleet = Fleet()
    for n, (agent, individual, name, person) in enumerate(BEARS):
        for day in range(1, 5):
            events = fleet.encounter(agent, day, 6 + n, individual=individual, name=name)
            if person:
                fleet.decided(agent, events, Identity("known", individual, name))
            fleet.expected[FLEET_ID[name]] += 3 if person else 0
    # Two boxes' strangers, confirmed by people, then linked at the station: one bear.
    for agent, hour in (("den-01", 20), ("den-02", 21)):
        provisional = f"unknown-{agent}-0001"
        first = fleet.encounter(agent, 2, hour, individual=None, outcome=Outcome.UNKNOWN)
        again = fleet.encounter(agent, 3, hour, individual=provisional)  # its next visit
        for events in (first, again):
            fleet.decided(agent, events, Identity("unknown", provisional, None))
        fleet.expected["unknown-den-01-0001"] += 6
    north = fleet.boxes["den-01"]
    # In review: nobody decided.
    fleet.encounter("den-01", 5, 6, individual=None, outcome=Outcome.REVIEW)
    # A person rejected a whole encounter (not a bear), and one chip of another.
    rejected = fleet.encounter("den-01", 5, 7, individual="bear-0002", name="Holly")
    fleet.messages.append(
        north.correction(
            "reject",
            encounter_id=encounter_id_of(rejected),
            before=Identity("known", "bear-0002", "Holly"),
            after=Identity("rejected", None, None),
        )
    )
    otis = fleet.encounter("den-01", 6, 6, individual="bear-0001", name="Otis")
    one_chip = fleet.uploads[-1].file
    fleet.messages.append(
        north.correction(
            "reject",
            encounter_id=encounter_id_of(otis),
            before=Identity("known", "bear-0001", "Otis"),
            after=Identity("rejected", None, None),
            files=[one_chip],
        )
    )
    fleet.decided("den-01", otis, Identity("known", "bear-0001", "Otis"))
    fleet.expected[FLEET_ID["Otis"]] += 2
    # Holly's first chip never reached the station; two of Mira's chips are the same bytes.
    holly = next(u for u in fleet.uploads if u.encounter_id == "den-01-enc-00005")
    fleet.uploads.remove(holly)
    fleet.expected[FLEET_ID["Holly"]] -= 1
    mira = [u for u in fleet.uploads if u.encounter_id == "den-01-enc-00009"]
    fleet.uploads[fleet.uploads.index(mira[1])] = replace(
        mira[1], data=mira[0].data, sha256=mira[0].sha256
    )
    fleet.expected[FLEET_ID["Mira"]] -= 1
    return fleet


Station = tuple[Engine, MediaStore, Fleet]


def make_station(db_url: str, media: Path) -> Station:
    """The fleet's events in a fresh database, the strangers linked, the chips stored."""
    fleet = build_fleet()
    engine = fresh_engine(db_url)
    assert set(ingest(engine, fleet.messages)) == {"stored"}
    link(engine, "unknown-den-01-0001", "unknown-den-02-0001", by="biologist")
    store = MediaStore(media)
    with engine.begin() as conn:
        for chip in fleet.uploads:
            store_chip(conn, store, chip)
    return engine, store, fleet


@pytest.fixture
def station(station_db: str, tmp_path: Path) -> Station:
    return make_station(station_db, tmp_path / "media")


def read_metadata(directory: Path) -> list[dict[str, str]]:
    with (directory / "metadata.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_the_reviewed_chips_are_written_and_the_rest_counted(
    station: Station, tmp_path: Path
) -> None:
    engine, store, fleet = station
    out = tmp_path / "training"
    summary = export_training_set(engine, store, out)
    rows = read_metadata(out)
    per_identity: dict[str, int] = defaultdict(int)
    for row in rows:
        per_identity[row["identity"]] += 1
    assert per_identity == {k: v for k, v in fleet.expected.items() if v}
    assert summary.left_out == {
        "rejected": 3 + 1,
        "not_reviewed": 3 + 4 * 3,  # the encounter in review, Kalle's machine decisions
        "no_media": 1,
        "duplicate": 1,
    }
    assert (summary.chips, summary.individuals, summary.by_person) == (len(rows), 5, len(rows))
    for row in rows:
        chip = out / row["path"]
        assert chip.parent.parent == out and chip.parent.name == row["identity"]
        assert hashlib.sha256(chip.read_bytes()).hexdigest() == row["sha256"] == row["image_id"]
        assert row["decided_by"] == "human"
    first = next(r for r in rows if r["file"] == "kuhmo/cam01/cam01_20260601-060000_000010.jpg")
    assert (first["identity"], first["date"], first["camera"], first["encounter"]) == (
        FLEET_ID["Otis"],
        "2026-06-01T06:00:00+03:00",
        "den-01/kuhmo/cam01",
        "den-01/den-01-enc-00001",
    )
    assert list(rows[0]) == [
        "image_id",
        "identity",
        "path",
        "date",
        "encounter",
        "camera",
        "agent_id",
        "file",
        "sha256",
        "decided_by",
        "score_name",
        "score",
    ]


def test_min_score_adds_the_machines_sure_decisions(station: Station, tmp_path: Path) -> None:
    engine, store, _fleet = station
    above = export_training_set(engine, store, tmp_path / "a", min_score=0.4)
    assert (above.by_machine, above.individuals) == (4 * 3, 6)
    kalle = [r for r in read_metadata(tmp_path / "a") if r["identity"] == FLEET_ID["Kalle"]]
    assert {(r["decided_by"], r["score_name"], r["score"]) for r in kalle} == {
        ("machine", "margin", "0.4200")
    }
    below = export_training_set(engine, store, tmp_path / "b", min_score=0.5)
    assert below.by_machine == 0 and below.left_out["not_reviewed"] == 3 + 4 * 3


def test_the_set_goes_round_trip_through_bear_train_split_and_fit(tmp_path: Path) -> None:
    """On SQLite only: the set is the same from PostgreSQL (the tests above)."""
    from beartrain.cli import main as bear_train
    from beartrain.data.splitfile import SUBSETS, read_split

    engine, store, _fleet = make_station(f"sqlite:///{tmp_path / 's.db'}", tmp_path / "media")
    out = tmp_path / "training"
    export_training_set(engine, store, out)
    rows = {r["path"]: r for r in read_metadata(out)}
    runner = CliRunner()
    split_dir = tmp_path / "split"
    args = ["split", str(out), "--kind", "open", "--seed", "3", "--out", str(split_dir)]
    result = runner.invoke(bear_train, [*args, "--metadata", str(out / "metadata.csv")])
    assert result.exit_code == 0, result.output
    split = read_split(split_dir)
    placed = {r.path: (name, r) for name in SUBSETS for r in split.subset(name)}
    assert set(placed) == set(rows)  # every chip, once
    side_of: dict[str, set[str]] = defaultdict(set)
    for path, (subset, chip) in placed.items():
        meta = rows[path]
        assert (chip.individual, chip.camera) == (meta["identity"], meta["camera"])
        assert chip.captured_at == datetime.fromisoformat(meta["date"])
        assert chip.encounter == meta["encounter"]
        side_of[chip.encounter].add(subset)
    assert all(len(sides) == 1 for sides in side_of.values())  # no encounter cut in two
    assert all(split.subset(name) for name in SUBSETS)

    config = tmp_path / "fit.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data": {"split": str(split_dir), "dataset": "station-training-set"},
                "model": {
                    "backbone": "resnet10t",
                    "pretrained": "none",
                    "embedding_size": 128,
                    "input": {"height": 64, "width": 64},
                },
                "sampler": {"batch_size": 6, "m_per_class": 2},
                "train": {"epochs": 1, "num_workers": 0, "umap": False, "progress": False},
            }
        )
    )
    fitted = runner.invoke(
        bear_train, ["fit", "--config", str(config), "--out", str(tmp_path / "run")]
    )
    assert fitted.exit_code == 0, fitted.output
    assert (tmp_path / "run" / "best.pt").is_file()


def test_an_export_replaces_its_own_folder_and_refuses_any_other(
    station: Station, tmp_path: Path
) -> None:
    engine, store, _fleet = station
    out = tmp_path / "training"
    export_training_set(engine, store, out)
    (out / FLEET_ID["Otis"] / "stale.jpg").write_bytes(b"old")
    export_training_set(engine, store, out)
    assert not (out / FLEET_ID["Otis"] / "stale.jpg").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    other = tmp_path / "photos"
    other.mkdir()
    (other / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(ExportError) as e:
        export_training_set(engine, store, other)
    assert str(e.value) == (
        f"{other} holds files but no metadata.csv, so it is not a training set this command "
        "wrote: give a new or empty folder (it would be replaced)"
    )
    assert (other / "holiday.jpg").read_bytes() == b"x"


def test_nothing_reviewed_is_an_error_that_says_why(station_db: str, tmp_path: Path) -> None:
    engine = fresh_engine(station_db)
    box = FakeBox("den-01")
    ingest(engine, box.encounter("cam01", at(1, 6), individual="bear-0001", name="Otis"))
    with pytest.raises(ExportError) as e:
        export_training_set(engine, MediaStore(tmp_path / "media"), tmp_path / "t")
    assert str(e.value) == (
        "no chip qualifies for the training set (left out: 3 not reviewed): review encounters "
        "on a review page, or add machine decisions with --min-score"
    )
    assert not (tmp_path / "t").exists()


def test_the_command_prints_what_it_wrote_and_left_out(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'station.db'}"
    fleet = build_fleet()
    engine = fresh_engine(db)
    ingest(engine, fleet.messages)
    store = MediaStore(tmp_path / "station-media")  # the default folder beside station.db
    with engine.begin() as conn:
        for chip in fleet.uploads:
            store_chip(conn, store, chip)
    engine.dispose()
    out = tmp_path / "training"
    result = CliRunner().invoke(
        bear_station,
        ["export", "training-set", str(out), "--db", db, "--min-score", "0.4"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    person = sum(fleet.expected.values())  # Otis 26, Holly 11, Bruno 12, Mira 11, strangers 12
    assert person == 72
    assert result.output.splitlines() == [
        f"wrote {out}: {person + 12} chips of 7 individuals in 29 encounters ({person} decided "
        "by a person, 12 by the machine (score >= 0.4))",
        "left out: 4 rejected, 3 not reviewed, 1 without media at the station, 1 duplicate bytes",
    ]
