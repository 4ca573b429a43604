"""``bear-train evaluate``: a trained run's figures on a split subset, as Markdown and CSV.

The table follows the reference work's form (split, backbone, loss, epochs,
acc@1/3/5/10), one row per chip, per encounter, and the reference's own
nearest-*images* top-k (labelled as such), followed by the open-set figures at
the threshold stored in the checkpoint.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from bearagent.modelcard import InputSpec
from beartrain.checkpoint import Checkpoint, load_checkpoint
from beartrain.data.splitfile import Split, read_split
from beartrain.evaluation.openset import OpenSetFigures, figures_at
from beartrain.evaluation.openset_scores import SCORE_NAMES
from beartrain.evaluation.protocol import SubsetResult, evaluate_subset
from beartrain.model import Embedder
from beartrain.training.distributed import pick_device
from beartrain.training.epoch import embed_rows

#: Table rows: label and the metric-name stem in `evaluate_subset`'s output.
ROWS = (
    ("per chip", "chip_acc"),
    ("per encounter", "enc_acc"),
    ("per chip, k nearest images (reference work's top-k)", "chip_imgtop"),
)


@dataclass
class EvaluationReport:
    """A run's figures on one subset."""

    subset: str
    split_kind: str
    backbone: str
    loss: str
    epochs: int
    ks: tuple[int, ...]
    metrics: dict[str, float]
    open_set: OpenSetFigures | None
    level: str = "encounter"  # what the open-set figures count: 'encounter' or 'chip' queries
    files: list[Path] = field(default_factory=list)

    def table_rows(self) -> list[dict[str, str]]:
        """One dict per table row (the CSV rows)."""
        rows = []
        for label, stem in ROWS:
            row = {
                "split": f"{self.subset} ({self.split_kind})",
                "backbone": self.backbone,
                "loss": self.loss,
                "epochs": str(self.epochs),
                "queries": label,
            }
            for k in self.ks:
                row[f"acc@{k}"] = _fmt(self.metrics.get(f"{self.subset}_{stem}{k}", math.nan))
            rows.append(row)
        return rows

    def markdown(self) -> str:
        """The table and the open-set figures as Markdown."""
        rows = self.table_rows()
        head = list(rows[0])
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r[c] for c in head) + " |" for r in rows]
        lines += ["", *self._open_set_lines(), *self._score_lines()]
        return "\n".join(lines) + "\n"

    def _score_lines(self) -> list[str]:
        """AUROC of each candidate open-set score (see beartrain.evaluation.openset_scores)."""
        m, sub = self.metrics, self.subset
        parts = [
            f"{name} {_fmt(m[f'{sub}_auroc_{name}'])} / "
            f"{_fmt(m.get(f'{sub}_enc_auroc_{name}', math.nan))}"
            for name in SCORE_NAMES
            if f"{sub}_auroc_{name}" in m
        ]
        if not parts:
            return []
        return ["", "AUROC by open-set score, per chip / per encounter: " + "; ".join(parts) + "."]

    def _open_set_lines(self) -> list[str]:
        enc = _fmt(self.metrics.get(f"{self.subset}_enc_auroc", math.nan))
        if self.open_set is None:
            auroc = _fmt(self.metrics.get(f"{self.subset}_auroc", math.nan))
            return [f"Open set: no calibrated threshold; AUROC {auroc} (per encounter {enc})."]
        o = self.open_set
        chip = _fmt(self.metrics.get(f"{self.subset}_auroc", math.nan))
        return [
            f"Open set per {self.level} ({o.known} known, {o.unknown} unknown): AUROC per chip "
            f"{chip}, per encounter {enc}; at the stored threshold {o.threshold:.4f}: "
            f"false-unknown rate {_fmt(o.false_unknown_rate)}, unknown detection rate "
            f"{_fmt(o.detection_rate)}."
        ]


def _fmt(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.3f}"


def _split_of(run: Path, ckpt: Checkpoint) -> Split:
    """The run's own copy of its split when there is one, else the config's split folder."""
    if (run / "split" / "split.json").is_file():
        return read_split(run / "split")
    return read_split(ckpt.config.data.split or run / "split")


def measure(
    model: Embedder,
    split: Split,
    spec: InputSpec,
    subset: str,
    ks: Sequence[int],
    *,
    device: torch.device,
    batch_size: int = 64,
) -> SubsetResult:
    """Embed the gallery (train) and `subset` with `model`, and score them per the split kind."""
    gallery = embed_rows(model, split.root, split.train, spec, device, batch_size=batch_size)
    rows = split.subset(subset)
    queries = embed_rows(model, split.root, rows, spec, device, batch_size=batch_size)
    return evaluate_subset(split.kind, gallery, queries, ks, subset)


def evaluate_run(
    run: Path, subset: str = "test", *, device: str = "auto", write: bool = True
) -> EvaluationReport:
    """Evaluate a run folder (its best.pt) or a checkpoint file on `subset`."""
    ckpt = load_checkpoint(run)
    folder = run if run.is_dir() else run.parent
    split = _split_of(folder, ckpt)
    torch_device = pick_device(device)
    model = ckpt.build_model().to(torch_device)
    ks = tuple(ckpt.config.eval.ks)
    result = measure(
        model,
        split,
        ckpt.input_spec,
        subset,
        ks,
        device=torch_device,
        batch_size=ckpt.config.eval.batch_size,
    )
    open_set = None
    cfg = ckpt.config
    known, unknown = result.scores(cfg.calibration.level)
    if ckpt.threshold is not None and len(known):
        open_set = figures_at(known, unknown, ckpt.threshold.value)
    report = EvaluationReport(
        subset,
        split.kind,
        cfg.model.backbone,
        cfg.loss.name,
        ckpt.epoch,
        ks,
        result.metrics,
        open_set,
        level=cfg.calibration.level,
    )
    if write:
        report.files = write_report(report, folder)
    return report


def write_report(report: EvaluationReport, folder: Path) -> list[Path]:
    """evaluation_<subset>.md and .csv in `folder`."""
    md = folder / f"evaluation_{report.subset}.md"
    md.write_text(report.markdown(), encoding="utf-8")
    path = folder / f"evaluation_{report.subset}.csv"
    rows = report.table_rows()
    extra = {}
    if report.open_set is not None:
        o = report.open_set
        extra = {
            "auroc": _fmt(o.auroc),
            "threshold": f"{o.threshold:.4f}",
            "false_unknown_rate": _fmt(o.false_unknown_rate),
            "unknown_detection_rate": _fmt(o.detection_rate),
        }
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=[*rows[0], *extra])
        writer.writeheader()
        writer.writerows({**r, **extra} for r in rows)
    return [md, path]
