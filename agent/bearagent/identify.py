"""`bearagent identify`: decide chips against the gallery exactly as the running agent would.

The same rule in force (`bearagent.pipeline.rules.resolve_rule`: config, then the
gallery's calibration, then the card) and the same `bearagent.decisions.decide`;
with ``encounter=True`` the files are one encounter, decided on the normalised
mean of their embeddings as a track is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from bearagent.chips import decode_chip, preprocess_batch
from bearagent.config import AgentConfig
from bearagent.decisions import NEIGHBOURS, Decision, decide
from bearagent.decisions.in_force import RuleInForce
from bearagent.gallery.schema import open_gallery
from bearagent.matching.index import GalleryIndex
from bearagent.pipeline.rules import resolve_rule
from bearagent.rollout.switch import model_in_use
from bearagent.runtime import open_embedder
from bearagent.runtime.base import Embedder


@dataclass(frozen=True)
class Identified:
    """The decision for one file (or, for an encounter, for all of them)."""

    files: tuple[str, ...]
    decision: Decision

    def as_json(self) -> dict[str, Any]:
        """A JSON object for the command line."""
        d, rule = self.decision, self.decision.rule
        return {
            "file": self.files[0] if len(self.files) == 1 else list(self.files),
            "status": d.outcome.value,
            "individual_id": d.individual_id,
            "name": d.name,
            "provisional": d.provisional,
            "score": {"name": rule.score, "value": round(d.score, 6)},
            "similarity": round(d.similarity, 6),
            "thresholds": {"known": rule.known, "unknown": rule.unknown, "source": rule.source},
            "top_k": [
                {
                    "individual_id": c.individual_id,
                    "name": c.name,
                    "similarity": round(c.similarity, 4),
                }
                for c in d.candidates
            ],
        }


def embed_paths(embedder: Embedder, files: list[Path], max_pixels: int) -> np.ndarray:
    """Decode, preprocess per the card, and embed `files`."""
    images = [decode_chip(f.read_bytes(), source=str(f), max_pixels=max_pixels) for f in files]
    return embedder.embed(preprocess_batch(images, embedder.card.input))


def identify_files(
    cfg: AgentConfig, files: list[Path], *, top_k: int = 5, encounter: bool = False
) -> tuple[RuleInForce, list[Identified]]:
    """Decide each file (or, with `encounter`, all of them as one encounter)."""
    in_use = model_in_use(cfg.runtime, cfg.agent.database_path)  # after a rollout: its model
    runtime = in_use.model_copy(update={"warm_up": False})
    with open_embedder(runtime) as embedder:
        vectors = embed_paths(embedder, files, cfg.watch.max_pixels)
        card = embedder.card
    db = open_gallery(cfg.agent.database_path)
    try:
        sha = card.model.sha256 or ""
        index = GalleryIndex(db, sha, card.model.name)
        in_force = resolve_rule(db, sha, card.decision, cfg.decision)
        groups = [tuple(str(f) for f in files)] if encounter else [(str(f),) for f in files]
        if encounter:
            total = vectors.sum(axis=0)
            vectors = (total / max(float(np.linalg.norm(total)), 1e-12))[None, :]
        ranked = index.search(vectors.astype(np.float32), max(top_k, NEIGHBOURS))
    finally:
        db.conn.close()
    results = []
    for names, candidates in zip(groups, ranked, strict=True):
        d = decide(candidates, in_force.rule)
        results.append(Identified(names, replace(d, candidates=d.candidates[:top_k])))
    return in_force, results
