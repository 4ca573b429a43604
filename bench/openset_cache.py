"""Embeddings of a run's split, cached on disk, for the open-set benches (no re-training).

`embedded(run, which, subset)` embeds the train/val/test chips of a `bear-train fit`
run folder with its best checkpoint (``which="trained"``) or its start (``"start"``:
``start.pt``, else the pretrained backbone with the head fitted by LDA, as
bench_embedder.py rebuilds it) and keeps them in ``--cache`` (an .npz per run,
model and subset, keyed by the checkpoint's size and mtime). A folder with only
``config.yaml`` and ``split/`` (no training) has its start only. Each chip also gets
its sharpness and size (`bearagent.decisions.quality`), read from the image once.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml

from bearagent.chips import decode_chip
from bearagent.decisions.quality import chip_size, sharpness
from bearagent.modelcard import InputSpec
from beartrain.checkpoint import load_checkpoint
from beartrain.config import TrainConfig, build_config
from beartrain.data.splitfile import Split, read_split
from beartrain.evaluation import EmbeddedSet
from beartrain.model import Embedder, build_embedder, input_spec
from beartrain.training import embed_rows
from beartrain.training.prepare import init_head_from_split


@dataclass(frozen=True)
class CachedSubset:
    """A subset's embeddings, the chips' sharpness and size, and the embedding cost."""

    chips: EmbeddedSet
    sharpness: np.ndarray
    size: np.ndarray
    ms_per_chip: float


def run_config(run: Path) -> tuple[TrainConfig, InputSpec]:
    """The run's config and input: from best.pt, else from config.yaml (a start-only folder)."""
    if (run / "best.pt").is_file():
        ckpt = load_checkpoint(run)
        return ckpt.config, ckpt.input_spec
    cfg = build_config(yaml.safe_load((run / "config.yaml").read_text()),
                       {"data.split": str(run / "split")})  # fmt: skip
    return cfg, input_spec(cfg.model)


def start_model(cfg: TrainConfig, spec: InputSpec, split: Split, run: Path) -> Embedder:
    """The run's start: start.pt, else the pretrained backbone with its LDA head."""
    if (run / "start.pt").is_file():
        return load_checkpoint(run / "start.pt").build_model().eval()
    torch.manual_seed(cfg.train.seed)
    model = build_embedder(cfg.model).eval()
    labels = sorted({r.individual for r in split.train})
    init_head_from_split(model, split, spec, labels, None, torch.device("cpu"))
    return model.eval()


def _key(run: Path, which: str, subset: str) -> str:
    ckpt = run / ("best.pt" if which == "trained" else "start.pt")
    stamp = f"{ckpt.stat().st_size}:{ckpt.stat().st_mtime_ns}" if ckpt.is_file() else "lda"
    digest = hashlib.sha256(f"{run.resolve()}:{which}:{subset}:{stamp}".encode()).hexdigest()
    return f"{run.name}-{which}-{subset}-{digest[:12]}.npz"


def _quality(split: Split, subset: str) -> tuple[np.ndarray, np.ndarray]:
    sharp, size = [], []
    for row in split.subset(subset):
        image = decode_chip((split.root / row.path).read_bytes(), source=row.path)
        sharp.append(sharpness(image))
        size.append(chip_size(image))
    return np.asarray(sharp, np.float64), np.asarray(size, np.float64)


def embedded(run: Path, which: str, subset: str, cache: Path) -> CachedSubset:
    """The cached (or freshly embedded) `subset` of `run` under model `which`."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / _key(run, which, subset)
    if path.is_file():
        z = np.load(path, allow_pickle=False)
        chips = EmbeddedSet(
            z["embeddings"], [str(x) for x in z["labels"]], [str(x) for x in z["encounters"]],
            z["known"],
        )  # fmt: skip
        return CachedSubset(chips, z["sharpness"], z["size"], float(z["ms_per_chip"]))
    cfg, spec = run_config(run)
    split = read_split(run / "split")
    if which == "trained":
        model = load_checkpoint(run).build_model().eval()
    else:
        model = start_model(cfg, spec, split, run)
    rows = split.subset(subset)
    started = time.perf_counter()
    chips = embed_rows(model, split.root, rows, spec, torch.device("cpu"))
    ms = 1000 * (time.perf_counter() - started) / max(len(rows), 1)
    sharp, size = _quality(split, subset)
    np.savez(
        path, embeddings=chips.embeddings, labels=np.asarray(chips.labels, str),
        encounters=np.asarray(chips.encounters, str), known=chips.known, sharpness=sharp,
        size=size, ms_per_chip=ms,
    )  # fmt: skip
    return CachedSubset(chips, sharp, size, ms)
