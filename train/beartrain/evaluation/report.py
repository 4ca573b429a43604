"""``bear-train evaluate``: a trained run's figures on a split subset, as Markdown and CSV.

The table follows the reference work's form (split, backbone, loss, epochs,
acc@1/3/5/10), one row per chip, per encounter, and the reference's own
nearest-*images* top-k (labelled as such); where the run folder holds its start
(``start.pt``, epoch 0: the pretrained backbone with its LDA or random head), its
rows follow, so the table shows what fine-tuning bought. Then the open-set figures:
what the decision rule stored in the checkpoint does per encounter and per chip
(decided through `bearagent.decisions.decide_ranked`, as the agent decides), and
the AUROC of every open-set score.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from bearagent.decisions import SCORE_NAMES
from bearagent.modelcard import DecisionSpec, InputSpec
from beartrain.checkpoint import Checkpoint, load_checkpoint
from beartrain.data.splitfile import Split, read_split
from beartrain.evaluation.decision_rule import rule_figures, rule_of
from beartrain.evaluation.protocol import SubsetResult, evaluate_subset
from beartrain.evaluation.queries import LEVELS
from beartrain.model import Embedder
from beartrain.training.distributed import pick_device
from beartrain.training.epoch import embed_rows

#: Rule figures in the open-set table: (column, key of `rule_figures`).
RULE_COLUMNS = (
    ("automatic", "automatic_share"),
    ("automatic error", "automatic_error"),
    ("false-unknown", "false_unknown_rate"),
    ("unknown detection", "unknown_detection_rate"),
    ("review", "review_share"),
    ("AUROC", "auroc"),
)
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
    decision: DecisionSpec | None
    rule_figures: dict[str, dict[str, float]] = field(default_factory=dict)  # level -> figures
    queries: dict[str, tuple[int, int]] = field(default_factory=dict)  # level -> known, unknown
    files: list[Path] = field(default_factory=list)
    start_metrics: dict[str, float] | None = None  # the start (epoch 0), when the run has it

    def table_rows(self) -> list[dict[str, str]]:
        """One dict per table row (the CSV rows): the trained model's, then the start's."""
        runs = [(str(self.epochs), self.metrics)]
        if self.start_metrics is not None and self.epochs != 0:
            runs.append(("0 (start)", self.start_metrics))
        rows = []
        for epochs, metrics in runs:
            for label, stem in ROWS:
                row = {
                    "split": f"{self.subset} ({self.split_kind})",
                    "backbone": self.backbone,
                    "loss": self.loss,
                    "epochs": epochs,
                    "queries": label,
                }
                for k in self.ks:
                    row[f"acc@{k}"] = _fmt(metrics.get(f"{self.subset}_{stem}{k}", math.nan))
                rows.append(row)
        return rows

    def gain_line(self) -> str:
        """What fine-tuning bought on this subset: acc@1 and AUROC of the start and the best."""
        if self.start_metrics is None:
            return "The run folder has no start.pt: the start (epoch 0) is not shown."
        if self.epochs == 0:
            return "The best epoch is the start (epoch 0): fine-tuning did not beat it on val."
        parts = []
        for label, key in (
            ("acc@1 per chip", "chip_acc1"),
            ("acc@1 per encounter", "enc_acc1"),
            ("encounter AUROC (best)", "enc_auroc"),
        ):
            a = self.start_metrics.get(f"{self.subset}_{key}", math.nan)
            b = self.metrics.get(f"{self.subset}_{key}", math.nan)
            parts.append(f"{label} {_fmt(a)} -> {_fmt(b)}")
        return (
            f"Start (epoch 0) -> best (epoch {self.epochs}) on {self.subset}: "
            + "; ".join(parts)
            + "."
        )

    def markdown(self) -> str:
        """The table and the open-set figures as Markdown."""
        rows = self.table_rows()
        head = list(rows[0])
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r[c] for c in head) + " |" for r in rows]
        lines += ["", self.gain_line(), "", *self._open_set_lines(), *self._score_lines()]
        return "\n".join(lines) + "\n"

    def _score_lines(self) -> list[str]:
        """AUROC of each open-set score (bearagent.decisions.scores), per chip and encounter."""
        m, sub = self.metrics, self.subset
        parts = [
            f"{name} {_fmt(m.get(f'{sub}_auroc_{name}', math.nan))} / "
            f"{_fmt(m.get(f'{sub}_enc_auroc_{name}', math.nan))}"
            for name in SCORE_NAMES
            if f"{sub}_auroc_{name}" in m
        ]
        return ["", "AUROC by open-set score, per chip / per encounter: " + "; ".join(parts) + "."]

    def _open_set_lines(self) -> list[str]:
        d = self.decision
        if d is None:
            enc = _fmt(self.metrics.get(f"{self.subset}_enc_auroc", math.nan))
            return [f"Open set: no calibrated decision rule; AUROC (best) per encounter {enc}."]
        lines = [
            f"Decision rule (from {d.method} on {d.validation_set or 'unknown data'}): "
            f"{rule_of(d).describe()}"
            + (f"; withheld: {d.reason}" if d.reason else "")
            + f". On {self.subset}:",
            "",
            "| queries | known / unknown | " + " | ".join(c for c, _ in RULE_COLUMNS) + " |",
            "|---|---|" + "---|" * len(RULE_COLUMNS),
        ]
        for level in ("encounter", "chip"):
            if level not in self.rule_figures:
                continue
            f = self.rule_figures[level]
            known, unknown = self.queries.get(level, (0, 0))
            cells = " | ".join(_fmt(f[key]) for _, key in RULE_COLUMNS)
            lines.append(f"| per {level} | {known} / {unknown} | {cells} |")
        return lines


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
    start = None
    if (folder / "start.pt").is_file() and ckpt.epoch != 0:
        start_model = load_checkpoint(folder / "start.pt").build_model().to(torch_device)
        start = measure(
            start_model, split, ckpt.input_spec, subset, ks, device=torch_device,
            batch_size=ckpt.config.eval.batch_size,
        ).metrics  # fmt: skip
    cfg = ckpt.config
    figures = {}
    if ckpt.decision is not None:
        rule = rule_of(ckpt.decision)
        figures = {str(level): rule_figures(rule, result.level(level)) for level in LEVELS}
    report = EvaluationReport(
        subset,
        split.kind,
        cfg.model.backbone,
        cfg.loss.name,
        ckpt.epoch,
        ks,
        result.metrics,
        ckpt.decision,
        figures,
        {lvl: (len(q.genuine), len(q.strangers)) for lvl, q in result.queries.items()},
        start_metrics=start,
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
    extra: dict[str, str] = {}
    if report.decision is not None:
        rule = rule_of(report.decision)
        extra = {
            "score": rule.score,
            "known_threshold": f"{rule.known:.4f}" if rule.decides_known else "none",
            "unknown_threshold": f"{rule.unknown:.4f}" if rule.decides_unknown else "none",
        }
        for level, figures in report.rule_figures.items():
            tag = "enc" if level == "encounter" else "chip"
            extra.update({f"{tag}_{key}": _fmt(figures[key]) for _, key in RULE_COLUMNS})
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=[*rows[0], *extra])
        writer.writeheader()
        writer.writerows({**r, **extra} for r in rows)
    return [md, path]
