"""bear-train on CPU: the start (epoch 0) beside the best epoch, per split kind.

Splits a dataset in ../shared/datasets (never copied: the split CSVs point at the
files; or a synthetic population, or any --root folder) with seed 0, measures the
frozen tf_efficientnet_lite0 (offline ImageNet weights) with a random head, trains
per the dataset's config (or --config) and measures its start (``start.pt``, epoch
0: the frozen backbone with the head fitted by LDA, no gradient step) and its best
epoch (``best.pt``, chosen on val). Prints test accuracy@1/3/5/10 per chip and per
encounter, the unknown AUROC per open-set score, and at the decision rule calibrated
on val (per encounter, as the agent decides; calibration.level) the false-unknown
and detection rates, the automatic error and the review share; the learning curve
(val acc@1 per chip and per encounter against epochs), seconds per training epoch,
train and inference images/s, wall time, and a README-style row: start beside best.

    .venv/bin/python bench/bench_train.py [--dataset cattle|chimp|cattle-openset]
        [--root DIR] [--kinds open disjoint] [--epochs N] [--config C]
        [--set optimizer.lr=0.002 ...] [--out /tmp/bench-train] [--synthetic] [--negatives 0.2]
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from dataclasses import replace
from pathlib import Path

import torch
import yaml

from bearagent.decisions import SCORE_NAMES, DecisionRule
from bearagent.modelcard import DecisionSpec
from beartrain.checkpoint import load_checkpoint
from beartrain.config import TrainConfig, build_config, parse_overrides
from beartrain.data.config import DataConfig
from beartrain.data.splitfile import Split, SplitKind
from beartrain.evaluation import rule_figures, rule_of
from beartrain.evaluation.report import measure
from beartrain.model import Embedder, build_embedder, input_spec
from beartrain.splits import KINDS, SplitConfig, split_folder
from beartrain.synthetic import SyntheticConfig, write_population
from beartrain.training import fit
from beartrain.training.calibrate import choose_on

REPO = Path(__file__).resolve().parents[1]
CATTLE = REPO.parent / "shared" / "datasets" / "cattle-faces" / "identities"
ROOTS = {
    "cattle": CATTLE,
    "chimp": REPO.parent / "shared" / "datasets" / "chimp-faces",
    "cattle-openset": REPO.parent / "shared" / "datasets" / "cattle-faces" / "openset",
}
CONFIGS = {
    "cattle": "train/configs/cattle-lite0.yaml",
    "chimp": "train/configs/chimp-lite0.yaml",
    "cattle-openset": "train/configs/cpu-lite0.yaml",
}
KS = (1, 3, 5, 10)
TEST_SHARE: dict[SplitKind, float] = {"open": 0.15, "disjoint": 0.3}


def figures(
    model: Embedder, split: Split, cfg: TrainConfig, decision: DecisionSpec | None
) -> dict[str, float]:
    """Test figures; the decision rule is calibrated on val when none is given."""
    device, spec = torch.device("cpu"), input_spec(cfg.model)
    start = time.perf_counter()
    test = measure(model, split, spec, "test", KS, device=device)
    seconds = time.perf_counter() - start
    out = dict(test.metrics)
    out["infer_img_s"] = (len(split.train) + len(split.test)) / seconds
    level = cfg.calibration.level
    if len(test.level(level).strangers):
        rule = rule_of(decision) if decision is not None else None
        if rule is None:
            val = measure(model, split, spec, "val", KS, device=device)
            choice = choose_on(val, cfg.calibration)
            if choice is not None:
                cal = choice.calibration
                rule = DecisionRule(cal.score, cal.known, cal.unknown)
        if rule is not None:
            f = rule_figures(rule, test.level(level))
            out.update(
                fur=f["false_unknown_rate"],
                det=f["unknown_detection_rate"],
                auto_err=f["automatic_error"],
                review=f["review_share"],
            )
    return out


def row(label: str, m: dict[str, float]) -> str:
    def f(key: str) -> str:
        v = m.get(key, math.nan)
        return "  n/a" if math.isnan(v) else f"{v:5.3f}"

    chip = " ".join(f(f"test_chip_acc{k}") for k in KS)
    enc = " ".join(f(f"test_enc_acc{k}") for k in KS)
    line = (
        f"{label:8s} chip {chip} | enc {enc} | AUROC {f('test_auroc')} enc {f('test_enc_auroc')}"
        f" | FUR {f('fur')} det {f('det')} err {f('auto_err')} review {f('review')}"
        f" | infer {m.get('infer_img_s', 0):.0f} img/s"
    )
    scores = [
        f"{name} {f(f'test_auroc_{name}')}/{f(f'test_enc_auroc_{name}')}"
        for name in SCORE_NAMES
        if f"test_auroc_{name}" in m
    ]
    if scores:
        line += "\n         AUROC per chip/encounter by open-set score: " + ", ".join(scores)
    return line


def bench_kind(
    kind: SplitKind,
    root: Path,
    out: Path,
    config: Path,
    epochs: int | None,
    overrides: dict[str, object],
    split_cfg: SplitConfig,
    negatives: float = 0.0,
) -> None:
    """Split, measure frozen, train, measure trained; print one block."""
    started = time.perf_counter()
    # The CLI's own default grouping (beartrain.data.encounters): the bench splits the
    # way `bear-train split` does, so its figures hold for what a user runs.
    data = DataConfig()
    split = split_folder(root, data, replace(split_cfg, kind=kind), out / "split")
    tree = yaml.safe_load(config.read_text())
    cfg = build_config(
        tree,
        {
            "data.split": str(out / "split"),
            "train.umap": False,
            "train.progress": False,
            # --epochs N: exactly N epochs (the whole curve); default: the recipe's own
            # epochs and patience, as `bear-train fit` runs it
            **({"train.epochs": epochs, "train.patience": epochs} if epochs else {}),
            **overrides,
        },
    )
    torch.manual_seed(0)
    model = build_embedder(cfg.model).eval()
    frozen = figures(model, split, cfg, None)
    result = fit(cfg, out / "run", negatives=negatives)
    start = figures(load_checkpoint(result.run_dir / "start.pt").build_model(), split, cfg, None)
    ckpt = load_checkpoint(result.best)
    trained = figures(ckpt.build_model(), split, cfg, ckpt.decision)
    trained_rows = [r for r in result.history if r["epoch"] > 0]
    train_s = [r["train_s"] for r in trained_rows]
    train_img_s = len(split.train) * len(trained_rows) / sum(train_s)
    cows = [len({r.individual for r in rows}) for rows in (split.train, split.val, split.test)]
    print(f"\nleak rule: {split.summary['data']['grouping']}")
    print(
        f"{kind} split (seed 0): {len(split.train)} train / {len(split.val)} val / "
        f"{len(split.test)} test chips, {cows[0]} / {cows[1]} / {cows[2]} individuals; "
        f"best epoch {result.best_epoch} of {len(trained_rows)}"
    )
    print("         acc@" + "/".join(map(str, KS)))
    print(row("frozen", frozen))
    print(row("start", start))
    print(row("trained", trained))
    print("learning curve (val acc@1 per chip / per encounter, epoch 0 = start): " + ", ".join(
        f"{int(r['epoch'])}: {r['val_chip_acc1']:.3f}/{r['val_enc_acc1']:.3f}"
        for r in result.history
    ))  # fmt: skip
    print(f"seconds per training epoch: {', '.join(f'{t:.0f}' for t in train_s)} (mean "
          f"{sum(train_s) / max(len(train_s), 1):.0f}); train {train_img_s:.1f} img/s; wall "
          f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    print(readme_row(kind, config, start, trained, result.best_epoch, len(trained_rows)))


def readme_row(kind: str, config: Path, start: dict[str, float], trained: dict[str, float],
               best: int, epochs: int) -> str:  # fmt: skip
    """| split | recipe | start (epoch 0) | best epoch | gain |, test acc@1 chip / enc, AUROC."""

    def f(m: dict[str, float]) -> str:
        return (f"{m['test_chip_acc1']:.3f} / {m['test_enc_acc1']:.3f} / "
                f"{m.get('test_enc_auroc', math.nan):.3f}")  # fmt: skip

    gain = trained["test_chip_acc1"] - start["test_chip_acc1"]
    gain_enc = trained["test_enc_acc1"] - start["test_enc_acc1"]
    return (f"| {kind} | {config.name} | {f(start)} | {f(trained)} (epoch {best} of {epochs}) | "
            f"{gain:+.3f} / {gain_enc:+.3f} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", nargs="+", default=["open", "disjoint"], choices=KINDS)
    parser.add_argument("--dataset", choices=ROOTS, default="cattle")
    parser.add_argument("--config", type=Path, help="default: the dataset's lite0 config")
    parser.add_argument(
        "--epochs", type=int, help="train exactly this many (default: the config's, with its "
        "patience)",
    )  # fmt: skip
    parser.add_argument(
        "--test-share",
        type=float,
        help="of chips (open, default 0.15) or of individuals (disjoint, default 0.3: 25 cows "
        "as in the reference protocol)",
    )
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-train"))
    parser.add_argument("--synthetic", action="store_true", help="a synthetic population instead")
    parser.add_argument("--root", type=Path, help="any folder laid out ROOT/<individual>/<chip>")
    parser.add_argument(
        "--negatives", type=float, default=0.0,
        help="share of train individuals held out of the classes as explicit negatives",
    )  # fmt: skip
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(2)
    root = ROOTS[args.dataset]
    config = args.config or REPO / CONFIGS[args.dataset]
    if args.synthetic:
        root = args.out / "synthetic"
        write_population(root, SyntheticConfig(individuals=24, size=96, seed=0))
    elif args.root is not None:
        root = args.root
    elif not root.is_dir():
        raise SystemExit(f"{root} not found: run with --synthetic, or beside ../shared/datasets")
    for kind in args.kinds:
        bench_kind(
            kind,
            root,
            args.out / kind,
            config,
            args.epochs,
            parse_overrides(args.overrides),
            SplitConfig(seed=0, test_share=args.test_share or TEST_SHARE[kind]),
            args.negatives,
        )


if __name__ == "__main__":
    main()
