"""bench/bench_loop.py's plumbing on a tiny synthetic population: real Mosquitto, the real
station, real agents, the desk's library calls, `bear-station export training-set` and
`model publish`. Two pixel embedders stand in for the trained models (training is what
the bench measures, at minutes per model; here the trainer hands back a ready model and
keeps the metadata tables it was given).

Checked: every field encounter ends decided by a person as its true individual, the
training set holds exactly the field chips (no gallery or held-out chip), the second
model's table is half A plus that set, the box switches to the second model, and each
moment's held-out encounters are all decided, by the model the box ran then.
"""

from __future__ import annotations

import csv
import hashlib
import sys
from pathlib import Path

from beartrain.synthetic import SyntheticConfig, write_population
from support.pixel_model import write_pixel_embedder
from support.rollout_models import write_sized_embedder

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from bench_loop import LoopOptions, run_loop
from loop_fleet import box_query
from loop_train import Trained


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rows(table: Path) -> list[dict[str, str]]:
    with table.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_the_loop_runs_end_to_end_on_a_synthetic_population(
    tmp_path: Path, mosquitto_binary: str
) -> None:
    root = tmp_path / "population"
    write_population(root, SyntheticConfig(
        individuals=6, min_encounters=4, max_encounters=4, min_frames=2, max_frames=3,
        nuisance=0.0, infrared_share=0.0, occlusion_share=0.0, size=64, cameras=2,
    ))  # fmt: skip
    models = [write_pixel_embedder(tmp_path / "m1.onnx", 0.9, review_below=0.7),
              write_sized_embedder(tmp_path / "m2.onnx")]  # fmt: skip
    tables: list[Path] = []

    def trainer(folder: Path, table: Path) -> Trained:
        tables.append(table)
        rows = _rows(table)
        return Trained(models[len(tables) - 1], len(rows), len({r["individual"] for r in rows}),
                       {"split": 0.0})  # fmt: skip

    work = tmp_path / "work"
    result = run_loop(work, root, LoopOptions(seed=1, gallery=1, heldout_share=0.3), trainer)
    data, field = result.data, result.field
    assert len(data.half_a) == len(data.half_b) == 3 and data.field and data.heldout

    tally = field.tally
    assert tally.encounters >= len(data.field) and tally.decided == tally.encounters
    exported = _rows(work / "training-set" / "metadata.csv")
    field_files = {c.box_file for e in data.field for c in e.chips}
    assert {r["file"] for r in exported} == field_files
    assert {r["decided_by"] for r in exported} == {"human"}

    first, second = (_rows(t) for t in tables)
    assert {r["path"] for r in first} == {f"data/{r.path}" for r in data.rows_a}
    assert {r["path"] for r in second} == {r["path"] for r in first} | {
        f"field/{r['path']}" for r in exported
    }
    assert len({r["individual"] for r in second}) == 6

    shas = [_sha(m) for m in models]
    heldout = {c.box_file for e in data.heldout for c in e.chips}
    for (label, _model, _refs, figures), sha in zip(result.rows, [shas[0], *shas], strict=True):
        assert len(figures.outcomes) == len(data.heldout), label
        assert {o.status for o in figures.outcomes} <= {"known", "review", "unknown"}, label
        used = [(f, m) for f, m in box_query(figures.database,
                                             "SELECT file, model_sha256 FROM sightings")
                if f in heldout]  # fmt: skip
        assert {f for f, _ in used} == heldout, label
        assert {m for _, m in used} == {sha}, label
