"""The run folder's README.md: what was trained, its best val figures, and its decision rule."""

from __future__ import annotations

import math

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
        lines = [
            f"Decision rule ({d.validation_set}): score `{d.score}`, known at >= "
            f"{d.known_threshold:.4f}, unknown below {d.unknown_threshold:.4f}, review in "
            f"between. Targets: automatic error <= {d.target_error_rate}, false-unknown <= "
            f"{d.target_false_unknown_rate}. On val: automatic error {_rate(d.error_rate)}, "
            f"false-unknown {_rate(d.false_unknown_rate)}, unknown detection "
            f"{_rate(d.unknown_detection_rate)}, review share {_rate(d.review_share)}, AUROC "
            f"{_rate(d.auroc)}.",
        ]
        if calibrated.choice is not None:
            met = "" if calibrated.choice.meets_targets else " **Targets missed.**"
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


def write_readme(run: Run, calibrated: RunCalibration) -> None:
    """README.md of the run folder."""
    best = next((r for r in run.state.history if r["epoch"] == run.state.best_epoch), {})
    figures = "\n".join(
        f"| {k} | {v:.4f} |" for k, v in best.items() if k.startswith("val_") and not math.isnan(v)
    )
    text = (
        f"# bear-train run\n\nBackbone `{run.cfg.model.backbone}`, loss `{run.cfg.loss.name}`, "
        f"miner `{run.cfg.miner.name}`; split `{run.cfg.data.split}` ({run.split.kind}, "
        f"{run.summary.individuals} individuals, {run.summary.images} train chips).\n\n"
        f"Best epoch {run.state.best_epoch} of {run.state.epoch} on "
        f"`{run.cfg.train.early_stop_metric}`.\n\n| metric | value |\n|---|---|\n{figures}\n\n"
        + "\n\n".join(decision_lines(calibrated))
        + "\n\nFiles: config.yaml, split/, metrics.csv, curves.png, umap/, best.pt, last.pt, "
        "calibration.json. Reproduce: `bear-train fit --config config.yaml`.\n"
    )
    (run.out / "README.md").write_text(text, encoding="utf-8")
