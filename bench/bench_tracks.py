"""Family groups and queues at one camera: per-individual tracks against the time-only rule.

Embeds a labelled chips folder with an exported embedder (ONNX + model card), puts
the split's train chips in the gallery, and builds synthetic camera streams from
the test encounters of gallery individuals:

- *family*: 2-3 individuals at one camera, their chips interleaved a second apart
  (a sow with cubs);
- *queue*: 2-3 individuals one after the other, 5 s apart, all within the gap
  (bears queueing at a river).

Each stream runs through the agent's own `EncounterTracker` (same decision rule
and same-individual similarity as the card, or --same-individual), and the
time-only rule (every chip within the gap joins the camera's one encounter).
Prints encounter purity (the share of an encounter's chips that belong to its
majority individual, averaged over encounters), encounters found against the
truth, and the share of encounters decided as their true individual.

    .venv/bin/python bench/bench_tracks.py --model runs/x/export/embedder.onnx \\
        --split runs/x/split [--streams 200] [--same-individual 0.6]
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from bearagent.chips import decode_chip, preprocess_batch
from bearagent.decisions import DecisionRule, Outcome
from bearagent.encounters import (
    ChipObservation,
    EncounterConfig,
    EncounterEvent,
    EncounterTracker,
)
from bearagent.matching.knn import Candidate
from bearagent.matching.knn_index import KnnIndex
from bearagent.runtime import RuntimeConfig, open_embedder
from beartrain.data.splitfile import read_split

T0 = datetime(2026, 7, 1, 6, 0, tzinfo=UTC)


class Gallery:
    """An in-memory IdentityStore over the train chips (provisional ones added on the fly)."""

    def __init__(self, embeddings: np.ndarray, owners: list[str]) -> None:
        self.index = KnnIndex(embeddings, owners, names={o: o for o in set(owners)})
        self.created = 0

    def search(self, queries: np.ndarray, k: int) -> Sequence[Sequence[Candidate]]:
        return self.index.search(queries, k)

    def create_provisional(self, embeddings: np.ndarray, sources: list[str]) -> str:
        self.created += 1
        who = f"unknown-bench-{self.created:04d}"
        self.index.add(embeddings, [who] * len(embeddings), kinds={who: "provisional"})
        return who

    def add_references(
        self, individual_id: str, embeddings: np.ndarray, sources: list[str]
    ) -> None:
        self.index.add(embeddings, [individual_id] * len(embeddings))


@dataclass
class Tally:
    """Encounters found over all streams, with their chips' true individuals."""

    true_encounters: int = 0
    found: int = 0
    purity_sum: float = 0.0
    right: int = 0

    def add(self, truth: int, ends: list[tuple[str | None, list[str]]]) -> None:
        self.true_encounters += truth
        self.found += len(ends)
        for decided, members in ends:
            majority, n = Counter(members).most_common(1)[0]
            self.purity_sum += n / len(members)
            self.right += decided == majority

    def line(self, name: str) -> str:
        purity = self.purity_sum / max(self.found, 1)
        ratio = self.found / max(self.true_encounters, 1)
        return (
            f"| {name} | {purity:.3f} | {self.found} / {self.true_encounters} ({ratio:.2f}) | "
            f"{self.right / max(self.found, 1):.3f} |"
        )


def embed(model: Path, root: Path, paths: list[str], batch: int = 32) -> np.ndarray:
    with open_embedder(RuntimeConfig(model=model, warm_up=False)) as embedder:
        out = []
        for lo in range(0, len(paths), batch):
            images = [
                decode_chip((root / p).read_bytes(), source=p) for p in paths[lo : lo + batch]
            ]
            out.append(embedder.embed(preprocess_batch(images, embedder.card.input)))
        return np.concatenate(out)


def run_stream(
    chips: list[tuple[str, np.ndarray, float]],
    gallery: Gallery,
    rule: DecisionRule,
    same_individual: float,
) -> list[tuple[str | None, list[str]]]:
    """(decided individual, true individuals of its chips) per encounter of one stream."""
    tracker = EncounterTracker(EncounterConfig(gap_s=60), lambda: rule, same_individual, gallery)
    truth: dict[str, str] = {}
    events: list[EncounterEvent] = []
    for i, (who, vector, seconds) in enumerate(chips):
        file = f"s/c/{i}.jpg"
        truth[file] = who
        (cands,) = gallery.search(vector[None, :], 5)
        chip = ChipObservation(file, "cam", "site", T0 + timedelta(seconds=seconds), "exif",
                               vector, tuple(cands))  # fmt: skip
        events += tracker.observe([chip]).events
    events += tracker.end_all()
    members: dict[str, list[str]] = {}  # an `end` lists every chip, also of merged tracks
    for event in events:
        if event.type == "end":
            members[event.encounter_id] = [truth[c.file] for c in event.chips]
    decided = {e.encounter_id: e.decision for e in events if e.type == "end"}
    return [
        (d.individual_id if d.outcome is Outcome.KNOWN else None, members[eid])
        for eid, d in decided.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--model", type=Path, required=True, help="exported embedder.onnx")
    parser.add_argument("--split", type=Path, required=True, help="a bear-train split folder")
    parser.add_argument("--streams", type=int, default=200, help="streams of each kind")
    parser.add_argument("--same-individual", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--same-individual-sweep", type=float, nargs="*", default=[],
        help="also run the tracks at these same-individual similarities",
    )  # fmt: skip
    args = parser.parse_args()
    split = read_split(args.split)
    train = split.train
    test = [r for r in split.test if r.known]
    start = time.perf_counter()
    gallery_e = embed(args.model, split.root, [r.path for r in train])
    test_e = embed(args.model, split.root, [r.path for r in test])
    print(f"embedded {len(train) + len(test)} chips in {time.perf_counter() - start:.0f} s")
    from bearagent.decisions.config import DecisionConfig
    from bearagent.decisions.in_force import rule_in_force
    from bearagent.modelcard import load_model_card

    card = load_model_card(args.model)
    d = card.decision
    rule = rule_in_force(d, DecisionConfig(), None).rule  # the card's rule, as the agent's
    same = args.same_individual
    if same is None:
        same = card.tracks.same_individual if card.tracks else d.unknown_threshold
    if same is None:
        raise SystemExit("the card has no tracks section: give --same-individual")
    encounters: dict[str, list[int]] = {}
    for i, r in enumerate(test):
        encounters.setdefault(r.encounter, []).append(i)
    by_individual: dict[str, list[str]] = {}
    for key, idx in encounters.items():
        if len(idx) >= 2:
            by_individual.setdefault(test[idx[0]].individual, []).append(key)
    rng = random.Random(args.seed)
    people = sorted(by_individual)
    print(f"{len(people)} gallery individuals with test encounters of 2+ chips; rule "
          f"{rule.describe()}; same-individual similarity {same:.3f}")  # fmt: skip
    print(
        "\n| stream, rule | purity | encounters found / true | decided right |\n|---|---|---|---|"
    )
    for kind in ("family", "queue"):
        runs = [("tracks", same), ("time only", -1.01)]
        runs += [(f"tracks at {x:.2f}", x) for x in args.same_individual_sweep]
        tallies = {name: Tally() for name, _ in runs}
        for _ in range(args.streams):
            group = rng.sample(people, rng.choice([2, 3]))
            visits = [rng.choice(by_individual[who]) for who in group]
            stream: list[tuple[str, np.ndarray, float]] = []
            if kind == "family":
                lists = [encounters[v][:8] for v in visits]
                t = 0.0
                for i in range(max(map(len, lists))):
                    for who, idx in zip(group, lists, strict=True):
                        if i < len(idx):
                            stream.append((who, test_e[idx[i]], t))
                            t += 1.0
            else:
                t = 0.0
                for who, v in zip(group, visits, strict=True):
                    for j in encounters[v][:6]:
                        stream.append((who, test_e[j], t))
                        t += 1.0
                    t += 5.0
            for name, s in runs:
                g = Gallery(gallery_e, [r.individual for r in train])
                tallies[name].add(len(group), run_stream(stream, g, rule, s))
        for name, tally in tallies.items():
            print(tally.line(f"{kind}, {name}"))


if __name__ == "__main__":
    main()
