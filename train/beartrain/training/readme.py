"""The run folder's README.md: what was trained, its best val figures, and its decision rule."""

from __future__ import annotations

import math

from bearagent.decisions import DEFAULT_CONFIDENCE
from beartrain.evaluation import rule_of
from beartrain.training.calibrate import RunCalibration
from beartrain.training.prepare import Run


def _rate(x: float | None) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:.3f}"


def decision_lines(calibrated: RunCalibration) -> list[str]:
    """The decision rule and the track similarity, in words."""
    d, t = calibrated.decision, calibrated.tracks
    if d is None:
        lines = ["Decision rule: not calibrated (val has no unknown queries)."]
    else:
        rule = rule_of(d)
        lines = [
            f"Decision rule ({d.validation_set}): {rule.describe()}. Targets: automatic error "
            f"<= {d.target_error_rate}, false-unknown <= {d.target_false_unknown_rate} (each "
            f"threshold kept only where the upper {100 * DEFAULT_CONFIDENCE:g} % confidence "
            f"bound of its rate on val is within it). On val: automatic error "
            f"{_rate(d.error_rate)}, false-unknown {_rate(d.false_unknown_rate)}, unknown "
            f"detection {_rate(d.unknown_detection_rate)}, review share {_rate(d.review_share)}, "
            f"AUROC {_rate(d.auroc)}.",
        ]
        if d.reason:
            lines.append(f"Withheld: {d.reason}.")
        if calibrated.choice is not None:
            met = "" if calibrated.choice.meets_targets else " **Everything goes to review.**"
            lines.append(f"Chosen: {calibrated.choice.reason}.{met}")
    if t is None:
        lines.append("Track similarity: not calibrated (val has no encounter of 2+ chips).")
    else:
        lines.append(
            f"Track similarity (same individual): {t.same_individual:.4f} for a false-join "
            f"target of {t.target_false_join_rate} ({t.validation_set}): false-join "
            f"{_rate(t.false_join_rate)}, split {_rate(t.split_rate)}."
        )
    return lines


def start_and_best(history: list[dict[str, float]], best_epoch: int, metric: str) -> list[str]:
    """A table of the start (epoch 0: pretrained backbone, LDA or random head) beside the best
    epoch: what fine-tuning bought on val."""
    start = next((r for r in history if r["epoch"] == 0), None)
    best = next((r for r in history if r["epoch"] == best_epoch), None)
    if start is None or best is None:
        return []
    keys = [metric] + [
        k
        for k in ("val_chip_acc1", "val_chip_acc5", "val_enc_acc1", "val_enc_acc5", "val_enc_auroc")
        if k != metric and k in start
    ]
    rows = [
        f"| {k} | {_rate(start.get(k))} | {_rate(best.get(k))} | "
        f"{_signed(best.get(k, math.nan) - start.get(k, math.nan))} |"
        for k in keys
    ]
    return [
        f"| val | start (epoch 0) | best (epoch {best_epoch}) | gain |",
        "|---|---|---|---|",
        *rows,
    ]


def _signed(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:+.3f}"


def write_readme(run: Run, calibrated: RunCalibration) -> None:
    """README.md of the run folder."""
    best = next((r for r in run.state.history if r["epoch"] == run.state.best_epoch), {})
    figures = "\n".join(
        f"| {k} | {v:.4f} |" for k, v in best.items() if k.startswith("val_") and not math.isnan(v)
    )
    metric = run.cfg.train.early_stop_metric
    gain = "\n".join(start_and_best(run.state.history, run.state.best_epoch, metric))
    text = (
        f"# bear-train run\n\nBackbone `{run.cfg.model.backbone}`, loss `{run.cfg.loss.name}`, "
        f"miner `{run.cfg.miner.name}`; split `{run.cfg.data.split}` ({run.split.kind}, "
        f"{run.summary.individuals} individuals, {run.summary.images} train chips).\n\n"
        f"Best epoch {run.state.best_epoch} of {run.state.epoch} on `{metric}`"
        + (" (the start: fine-tuning did not beat it on val)" if run.state.best_epoch == 0 else "")
        + f".\n\n{gain}\n\n| metric | value |\n|---|---|\n{figures}\n\n"
        + "\n\n".join(decision_lines(calibrated))
        + "\n\nFiles: config.yaml, split/, metrics.csv, curves.png, umap/, start.pt (epoch 0), "
        "best.pt, last.pt, calibration.json. Reproduce: `bear-train fit --config config.yaml`.\n"
    )
    (run.out / "README.md").write_text(text, encoding="utf-8")
