"""A stronger edge embedder, measured per change (issue 15): flip TTA, re-ranking, verification.

For trained runs (run folders of `bear-train fit`, e.g. those bench_decisions.py
or bench_train.py leave behind) on the cattle faces (open and disjoint, seed 0)
and the chimp faces (open, seed 0), prints test acc@1/5 per chip and per
encounter, the encounter AUROC of the best open-set score, and the cost per
query, for:

- the run as trained (the current default);
- + flip TTA: the chip and its mirror averaged (`beartrain.model.FlipAveraged`,
  what `bear-export --flip-tta` bakes into the ONNX); with its ONNX parity and
  speed (ONNX Runtime, CPU, batch 1 and 8) against the plain export;
- + gallery expansion / query expansion / both (`beartrain.evaluation.rerank`;
  open splits only);
- + local verification: SIFT + RANSAC inliers of the top 3 candidates fused with
  the global similarity by a logistic regression fitted on val (chip-vote per
  encounter, beside the global score under the same vote).

    .venv/bin/python bench/bench_embedder.py --run NAME=RUN_DIR [--run NAME=RUN_DIR ...]
        [--no-verify] [--no-onnx] [--out /tmp/bench-embedder]
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch

from bearagent.decisions import SCORE_NAMES
from bearagent.matching.verify import LocalVerifier
from beartrain.checkpoint import Checkpoint, load_checkpoint
from beartrain.data.splitfile import Split, SplitRow, read_split
from beartrain.evaluation import EmbeddedSet, evaluate_subset
from beartrain.evaluation.rerank import expand_queries, gallery_expansion
from beartrain.model import Embedder, FlipAveraged
from beartrain.training import embed_rows
from bench_embedder_verify import FeatureCache, candidates, fit_fusion, reranked_accuracy

KS = (1, 5)


def embed(
    model: Embedder, split: Split, ckpt: Checkpoint, subset: str
) -> tuple[EmbeddedSet, float]:
    """Embeddings of a subset and the seconds per chip it took."""
    rows = split.subset(subset)
    started = time.perf_counter()
    out = embed_rows(model, split.root, rows, ckpt.input_spec, torch.device("cpu"))
    return out, (time.perf_counter() - started) / max(len(rows), 1)


def starting_point(ckpt: Checkpoint, split: Split) -> Embedder:
    """The run's starting point: its pretrained backbone with the head fitted by LDA."""
    from beartrain.model import build_embedder
    from beartrain.training.prepare import init_head_from_split

    torch.manual_seed(ckpt.config.train.seed)
    model = build_embedder(ckpt.config.model).eval()
    labels = sorted({r.individual for r in split.train})
    init_head_from_split(model, split, ckpt.input_spec, labels, None, torch.device("cpu"))
    return model.eval()


def epochs(run: Path) -> int:
    """Epochs the run trained (rows of metrics.csv after epoch 0)."""
    lines = (
        (run / "metrics.csv").read_text().splitlines() if (run / "metrics.csv").is_file() else []
    )
    return max(len(lines) - 2, 0)


def row(label: str, m: dict[str, float], cost_ms: float, note: str = "") -> str:
    def f(key: str) -> str:
        v = m.get(key, math.nan)
        return "  n/a" if math.isnan(v) else f"{v:5.3f}"

    best = max(SCORE_NAMES, key=lambda s: m.get(f"test_enc_auroc_{s}", -1.0))
    auroc = m.get(f"test_enc_auroc_{best}", math.nan)
    enc_auroc = "  n/a" if math.isnan(auroc) else f"{auroc:5.3f} ({best})"
    return (
        f"  {label:28s} chip {f('test_chip_acc1')} {f('test_chip_acc5')} | enc "
        f"{f('test_enc_acc1')} {f('test_enc_acc5')} | enc AUROC {enc_auroc:16s} | "
        f"{cost_ms:6.1f} ms/query {note}"
    )


def onnx_costs(run: Path, out: Path, chips: Path) -> str:
    """Parity and ONNX Runtime speed of the plain and the flip-TTA export."""
    from bearexport import onnxrun
    from bearexport.pipeline import ExportOptions, export_checkpoint

    lines = []
    for flip in (False, True):
        folder = out / ("flip" if flip else "plain")
        result = export_checkpoint(run, folder, ExportOptions(chips=chips, flip_tta=flip))
        sess = onnxrun.session(folder / "embedder.onnx")
        spec = result.card.input
        speeds = []
        for batch in (1, 8):
            x = np.random.default_rng(0).normal(size=(batch, 3, spec.height, spec.width))
            x = x.astype(np.float32)
            onnxrun.run(sess, x, spec.name, result.card.embedding.name)
            started, n = time.perf_counter(), 0
            while time.perf_counter() - started < 2.0:
                onnxrun.run(sess, x, spec.name, result.card.embedding.name)
                n += batch
            speeds.append(
                f"batch {batch}: {1000 * (time.perf_counter() - started) / n:.1f} ms/chip"
            )
        report = result.parity["fp32"]
        lines.append(f"    ONNX {'flip TTA' if flip else 'plain   '}: {', '.join(speeds)}; "
                     f"parity min cosine {report.min_cosine:.6f}")  # fmt: skip
    return "\n".join(lines)


def bench_run(name: str, run: Path, out: Path, verify: bool, onnx: bool) -> None:
    ckpt = load_checkpoint(run)
    split = read_split(run / "split")
    model = ckpt.build_model()
    print(f"\n{name}: {split.kind} split (seed {split.seed}), {run} (epoch {ckpt.epoch}); leak "
          f"rule: {split.summary.get('data', {}).get('grouping', 'time and names')}")  # fmt: skip
    print(f"  {'':28s} chip acc@1 acc@5 | enc acc@1 acc@5 | encounter AUROC")
    start = starting_point(ckpt, split)
    s_gallery, _ = embed(start, split, ckpt, "train")
    s_test, s_chip = embed(start, split, ckpt, "test")
    frozen = evaluate_subset(split.kind, s_gallery, s_test, KS, "test").metrics
    print(row("frozen + LDA head (start)", frozen, 1000 * s_chip))
    gallery, _ = embed(model, split, ckpt, "train")
    test, per_chip = embed(model, split, ckpt, "test")
    base = evaluate_subset(split.kind, gallery, test, KS, "test").metrics
    print(row(f"trained (best: epoch {ckpt.epoch} of {epochs(run)})", base, 1000 * per_chip))
    flip_model = FlipAveraged(model).eval()
    f_gallery, _ = embed(flip_model, split, ckpt, "train")
    f_test, f_chip = embed(flip_model, split, ckpt, "test")
    flipped = evaluate_subset(split.kind, f_gallery, f_test, KS, "test").metrics
    print(row("+ flip TTA", flipped, 1000 * f_chip))
    if split.kind == "open":
        for label, g, q in (
            ("+ gallery expansion (k=2)", gallery_expansion(gallery), test),
            ("+ query expansion (k=2)", gallery, expand_queries(test, gallery)),
            (
                "+ both",
                gallery_expansion(gallery),
                expand_queries(test, gallery_expansion(gallery)),
            ),
        ):
            started = time.perf_counter()
            m = evaluate_subset(split.kind, g, q, KS, "test").metrics
            extra = (time.perf_counter() - started) / max(len(test.labels), 1)
            print(row(label, m, 1000 * (per_chip + extra)))
    if verify:
        verify_rows(split, model, ckpt, gallery, test, per_chip)
    if onnx:
        print(onnx_costs(run, out / name, split.root))


def verify_rows(split: Split, model: Embedder, ckpt: Checkpoint, gallery: EmbeddedSet,
                test: EmbeddedSet, per_chip: float) -> None:  # fmt: skip
    """Global vs fused (global + SIFT inliers, calibrated on val) re-ranking of the top 3."""
    cache = FeatureCache(split.root, LocalVerifier("sift"))
    val, _ = embed(model, split, ckpt, "val")
    disjoint = split.kind == "disjoint"

    def known(rows: list[SplitRow], emb: EmbeddedSet) -> tuple[EmbeddedSet, list[str]]:
        mask = np.ones(len(rows), bool) if disjoint else emb.known
        return emb.select(mask), [r.path for r, keep in zip(rows, mask, strict=True) if keep]

    v, v_paths = known(split.val, val)
    t, t_paths = known(split.test, test)
    v_gallery, v_gpaths = (v, v_paths) if disjoint else (gallery, [r.path for r in split.train])
    t_gallery, t_gpaths = (t, t_paths) if disjoint else (gallery, [r.path for r in split.train])
    val_c = candidates(v, v_paths, v_gallery, v_gpaths, cache, disjoint)
    fusion = fit_fusion(val_c)
    test_c = candidates(t, t_paths, t_gallery, t_gpaths, cache, disjoint)
    plain, fused = reranked_accuracy(test_c, None), reranked_accuracy(test_c, fusion)
    cost = 1000 * (per_chip + test_c.seconds / max(len(t_paths), 1))
    print(f"  {'global, top-3 chip vote':28s} chip {plain['chip_acc1']:5.3f}       | enc "
          f"{plain['enc_acc1']:5.3f}")  # fmt: skip
    print(f"  {'+ SIFT verification, fused':28s} chip {fused['chip_acc1']:5.3f}       | enc "
          f"{fused['enc_acc1']:5.3f}       | {'':22s} | {cost:6.1f} ms/query "
          f"(fusion weights {np.round(fusion.coef_[0], 2).tolist()}, fitted on val)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", required=True, metavar="NAME=RUN_DIR")
    parser.add_argument("--no-verify", action="store_true")
    parser.add_argument("--no-onnx", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-embedder"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    torch.set_num_threads(2)
    for item in args.run:
        name, _, folder = item.partition("=")
        bench_run(name, Path(folder), args.out, not args.no_verify, not args.no_onnx)


if __name__ == "__main__":
    main()
