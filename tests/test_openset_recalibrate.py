"""The box's calibration: one policy for every caller, a promise it keeps, and what is in
force without one (uncalibrated cards). Real galleries of real chips through a real ONNX
embedder; the agent's own command line, review page and start-up."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from bearagent.app import Agent, StartupError, same_individual
from bearagent.cli import main as agent_cli
from bearagent.config import AgentConfig
from bearagent.decisions.in_force import UNCALIBRATED_CARD
from bearagent.gallery import add_references, create_known
from bearagent.gallery.calibration import current_calibration
from bearagent.gallery.recalibrate import recalibrate, recalibrate_model
from bearagent.gallery.schema import open_gallery
from bearagent.identify import embed_paths, identify_files
from bearagent.modelcard import DecisionSpec, load_model_card, write_model_card
from bearagent.pipeline.rules import resolve_rule
from bearagent.review.actions.calibrate import Recalibrator
from bearagent.runtime import RuntimeConfig, open_embedder
from beartrain.synthetic import encode_jpeg
from support.agent_world import clean, encounters_of
from support.pixel_model import write_pixel_embedder

INDIVIDUALS, ENCOUNTERS = 16, 5


def write_gallery(
    root: Path, model: Path, database: Path, *, shuffled: bool
) -> dict[str, list[Path]]:
    """Enrol every individual's encounters but its last (each a reference encounter); with
    `shuffled`, each encounter under a random individual's name (the identities carry no
    signal). Returns each individual's held-out last encounter, written as files."""
    population = encounters_of(clean(individuals=INDIVIDUALS, encounters=ENCOUNTERS))
    names = sorted(population)
    rng = random.Random(0)
    db = open_gallery(database)
    ids = {who: create_known(db, who) for who in names}
    held: dict[str, list[Path]] = {}
    with open_embedder(RuntimeConfig(model=model)) as embedder:
        for who in names:
            *enrolled_encounters, last = population[who]
            for n, encounter in enumerate(enrolled_encounters):
                owner = rng.choice(names) if shuffled else who
                files = []
                for record, chip in encounter:
                    files.append(root / owner / Path(record.path).name)
                    files[-1].parent.mkdir(parents=True, exist_ok=True)
                    files[-1].write_bytes(encode_jpeg(chip, record.captured_at))
                vectors = embed_paths(embedder, files, 10**7)
                sha, key = embedder.card.model.sha256 or "", f"{who}-{n}"
                sources = [str(f) for f in files]
                add_references(db, ids[owner], vectors, sha, sources, encounters=[key] * len(files))
            for record, chip in last:
                path = root.parent / "held" / who / Path(record.path).name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(encode_jpeg(chip, record.captured_at))
                held.setdefault(who, []).append(path)
    return held


def agent_config(tmp_path: Path, model: Path, **decision: Any) -> AgentConfig:
    (tmp_path / "traps").mkdir(exist_ok=True)
    return AgentConfig.model_validate({
        "agent": {"id": "box1", "database": str(tmp_path / "state" / "bearagent.db"),
                  "timezone": "UTC", "publisher": "stdout"},
        "watch": {"roots": [str(tmp_path / "traps")]},
        "runtime": {"model": str(model)},
        "decision": decision,
    })  # fmt: skip


def enrolled(
    tmp_path: Path, *, shuffled: bool, model: Path | None = None
) -> tuple[AgentConfig, dict[str, list[Path]]]:
    model = model or write_pixel_embedder(tmp_path / "embedder.onnx", threshold=0.9)
    cfg = agent_config(tmp_path, model)
    held = write_gallery(tmp_path / "gallery", model, cfg.agent.database_path, shuffled=shuffled)
    return cfg, held


def calibrate_cli(cfg_path: Path) -> dict[str, Any]:
    result = CliRunner().invoke(
        agent_cli, ["gallery", "calibrate", "--json", "--config", str(cfg_path)]
    )
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout[result.stdout.index("{") :]))


def write_toml(cfg: AgentConfig, path: Path) -> Path:
    path.write_text(
        f'[agent]\nid = "box1"\ndatabase = "{cfg.agent.database_path}"\ntimezone = "UTC"\n'
        f'publisher = "stdout"\n[runtime]\nmodel = "{cfg.runtime.model}"\n'
        f'[watch]\nroots = ["{cfg.watch.roots[0]}"]\n'
    )
    return path


@pytest.mark.parametrize("shuffled", [False, True])
def test_where_the_scores_carry_no_signal_the_calibrated_rule_makes_no_automatic_decision(
    tmp_path: Path, shuffled: bool
) -> None:
    """Done when (the box): a gallery whose identities are shuffled across encounters
    calibrates to a rule that sends everything to review, and says why; the same gallery
    with its true identities decides (so the test can fail)."""
    cfg, held = enrolled(tmp_path, shuffled=shuffled)
    figures = calibrate_cli(write_toml(cfg, tmp_path / "agent.toml"))
    assert figures["individuals"] == INDIVIDUALS
    card = load_model_card(cfg.runtime.model)
    db = open_gallery(cfg.agent.database_path)
    in_force = resolve_rule(db, card.model.sha256 or "", card.decision, cfg.decision)
    assert in_force.rule.source == "gallery"
    queries = [files for files in held.values()]
    decided = [identify_files(cfg, files, encounter=True)[1][0].decision for files in queries]
    outcomes = {d.outcome.value for d in decided}
    if shuffled:
        assert outcomes == {"review"}
        assert not (in_force.rule.decides_known or in_force.rule.decides_unknown)
        assert in_force.why.startswith(f"calibrated on this gallery ({INDIVIDUALS} individuals, ")
        assert "everything to review: no automatic known: no threshold keeps the automatic " \
               "error <= 0.05 at 95 % confidence" in in_force.why  # fmt: skip
        assert figures["why"].startswith("everything to review: ")
    else:
        assert "known" in outcomes and in_force.rule.decides_known
        right = [
            d.name == who
            for d, who in zip(decided, held, strict=True)
            if d.outcome.value == "known"
        ]
        assert all(right)


def test_the_one_recalibration_calibrates_for_the_model_in_use_not_the_gallerys_first(
    tmp_path: Path,
) -> None:
    """The command line took the card's SHA-256, the review page the gallery's first model:
    with a gallery still made with another model they disagreed. Both now call
    `recalibrate`: for the model in use, which the agent reads calibrations by."""
    model = write_pixel_embedder(tmp_path / "embedder.onnx", threshold=0.9)
    cfg = agent_config(tmp_path, model)
    in_use = load_model_card(model).model.sha256 or ""
    old = "0" * 64  # a model the gallery was made with before (sorts first)
    db = open_gallery(cfg.agent.database_path)
    rng = np.random.default_rng(0)
    for i in range(10):
        who = create_known(db, f"Bear {i}")
        refs = rng.normal(size=(4, 8)).astype(np.float32)
        sources = [f"{i}/{j}.jpg" for j in range(4)]
        add_references(db, who, refs, old, sources, encounters=["a", "a", "b", "b"])
    done = recalibrate_model(db, model, cfg.decision)
    assert done.model_sha256 == in_use and done.current is None
    assert done.note == (
        "the model card's stay in force (the gallery's references were made with another model "
        f"(sha256 {old[:12]}...), not with the model in use (sha256 {in_use[:12]}...): "
        "re-embed them with `bearagent gallery reembed` to calibrate)"
    )
    assert current_calibration(db, old, "best") is None  # nothing stored for a model not in use
    recalibrator = Recalibrator(cfg.agent.database_path, cfg)  # the review page's
    recalibrator.request()
    assert recalibrator.wait_idle(60)
    recalibrator.close()
    assert recalibrator.last is not None and recalibrator.last.model_sha256 == in_use
    assert current_calibration(open_gallery(cfg.agent.database_path), old, "best") is None


def test_every_caller_stores_the_calibration_the_agent_then_decides_with(tmp_path: Path) -> None:
    cfg, _ = enrolled(tmp_path, shuffled=False)
    card = load_model_card(cfg.runtime.model)
    sha = card.model.sha256 or ""
    db = open_gallery(cfg.agent.database_path)
    stale = recalibrate(db, sha, card.decision, cfg.decision, when="stale")  # the agent's start
    assert stale.result is not None and stale.current is not None
    again = recalibrate(db, sha, card.decision, cfg.decision, when="stale")
    assert again.result is None and again.current == stale.current  # current: nothing to do
    recalibrator = Recalibrator(cfg.agent.database_path, cfg)
    recalibrator.request()
    assert recalibrator.wait_idle(60)
    recalibrator.close()
    assert recalibrator.last is not None and recalibrator.last.current is not None
    assert recalibrator.last.current.id > stale.current.id  # calibrated again, same model
    off = recalibrate(db, sha, card.decision, cfg.decision.model_copy(
        update={"calibrate_on_gallery": False}))  # fmt: skip
    assert (off.result, off.note) == (None, "decision.calibrate_on_gallery is off")


def uncalibrated(model: Path) -> Path:
    """Give the model the card of a foundation model: no thresholds, no tracks."""
    card = load_model_card(model)
    spec = DecisionSpec.uncalibrated("best", "not trained by bear-train")
    write_model_card(
        model, card.model_copy(update={"decision": spec, "tracks": None}).with_sha256(None)
    )
    return model


def test_an_uncalibrated_card_sends_everything_to_review_until_the_gallery_calibrates(
    tmp_path: Path,
) -> None:
    model = uncalibrated(write_pixel_embedder(tmp_path / "embedder.onnx"))
    cfg = agent_config(tmp_path, model)
    card = load_model_card(model)
    empty = open_gallery(cfg.agent.database_path)
    before = resolve_rule(empty, card.model.sha256 or "", card.decision, cfg.decision)
    assert before.why == f"everything to review: {UNCALIBRATED_CARD}"
    assert UNCALIBRATED_CARD == (
        "the model card carries no calibrated thresholds; the box calibrates on its gallery "
        "(`bearagent gallery calibrate`)"
    )
    with pytest.raises(StartupError, match="the model card has no same-individual similarity"):
        same_individual(card, cfg, empty)
    cfg, held = enrolled(tmp_path, shuffled=False, model=model)
    tracks = same_individual(card, cfg, open_gallery(cfg.agent.database_path))
    assert 0.0 < tracks < 1.0  # calibrated on the gallery's encounters
    agent = Agent(cfg)  # start-up calibrates the stale gallery; status says what is in force
    agent.start()
    try:
        status = agent.live_status()["decision_rule"]
    finally:
        agent.stop()
    assert isinstance(status, dict) and status["source"] == "gallery"
    assert str(status["why"]).startswith(f"calibrated on this gallery ({INDIVIDUALS} individuals")
    decided = identify_files(cfg, held[sorted(held)[3]], encounter=True)[1][0].decision
    assert (decided.outcome.value, decided.name) == ("known", sorted(held)[3])
