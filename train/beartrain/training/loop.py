"""``bear-train fit``: the training loop, per-epoch evaluation, early stopping, calibration.

Run folder: ``config.yaml`` (resolved), ``split/`` (a copy of the split files),
``metrics.csv``, ``curves.png``, ``umap/epoch_NNN.png``, ``best.pt`` (best epoch
on train.early_stop_metric, with the calibrated threshold), ``last.pt`` (for
``--resume``), ``calibration.json`` and ``README.md``.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bearagent.modelcard import ThresholdSpec
from beartrain.checkpoint import load_checkpoint, save_checkpoint, store_threshold
from beartrain.config import TrainConfig, config_to_yaml
from beartrain.evaluation import calibrate, evaluate_subset
from beartrain.evaluation.protocol import SubsetResult
from beartrain.model import Embedder
from beartrain.training.distributed import broadcast_flag, setup, teardown
from beartrain.training.epoch import embed_rows, train_one_epoch
from beartrain.training.prepare import Run, prepare
from beartrain.training.runfiles import plot_curves, plot_umap, write_metrics_csv
from beartrain.training.state import check_metric, seed_everything

log = logging.getLogger(__name__)

#: Called on the main process after each epoch with (epoch, metrics); may raise to stop.
EpochCallback = Callable[[int, dict[str, float]], None]


@dataclass
class FitResult:
    """What a fit produced."""

    run_dir: Path
    best_epoch: int
    history: list[dict[str, float]]
    threshold: ThresholdSpec | None
    stopped_early: bool

    @property
    def best(self) -> Path:
        """The best checkpoint."""
        return self.run_dir / "best.pt"


def fit(
    cfg: TrainConfig,
    out: Path,
    resume: Path | None = None,
    on_epoch: EpochCallback | None = None,
) -> FitResult:
    """Train per `cfg` into the run folder `out` (optionally continuing from `resume`).

    `on_epoch` sees each epoch's metrics (hyper-parameter search prunes with it).
    """
    ctx = setup(cfg.train.device)
    try:
        run = prepare(cfg, out, ctx, load_checkpoint(resume) if resume else None)
        if ctx.is_main:
            _start_run_folder(run)
        if ctx.is_main and run.state.epoch == 0:
            # Epoch 0: the untrained embedder, the baseline every epoch is compared with.
            before = validate(run, run.model, 0).metrics
            check_metric(cfg.train.early_stop_metric, {"train_loss": 0.0, **before})
            run.state.history.append({"epoch": 0.0, **before})
        stopped = False
        for epoch in range(run.state.epoch + 1, cfg.train.epochs + 1):
            stopped = _epoch(run, epoch)
            if on_epoch is not None and ctx.is_main:
                on_epoch(epoch, run.state.history[-1])
            if stopped:
                break
        threshold = _finish(run) if ctx.is_main else None
        return FitResult(out, run.state.best_epoch, run.state.history, threshold, stopped)
    finally:
        teardown(ctx)


def _start_run_folder(run: Run) -> None:
    run.out.mkdir(parents=True, exist_ok=True)
    (run.out / "config.yaml").write_text(config_to_yaml(run.cfg), encoding="utf-8")
    split_copy = run.out / "split"
    split_copy.mkdir(exist_ok=True)
    source = run.cfg.data.split
    for name in ("train.csv", "val.csv", "test.csv", "split.json"):
        if source is not None:  # always set: load_split checked it
            shutil.copy2(source / name, split_copy / name)


def validate(run: Run, model: Embedder, epoch: int, *, umap: bool = True) -> SubsetResult:
    """Val metrics with gallery = train chips; a UMAP plot when enabled."""
    cfg = run.cfg
    kwargs = {"batch_size": cfg.eval.batch_size, "num_workers": cfg.train.num_workers}
    root, device = run.split.root, run.ctx.device
    gallery = embed_rows(model, root, run.split.train, run.spec, device, **kwargs)
    val = embed_rows(model, root, run.split.val, run.spec, device, **kwargs)
    result = evaluate_subset(run.split.kind, gallery, val, cfg.eval.ks, "val")
    if cfg.train.umap and umap:
        (run.out / "umap").mkdir(exist_ok=True)
        path = run.out / "umap" / f"epoch_{epoch:03d}.png"
        plot_umap(path, val.embeddings, val.labels, val.known, cfg.train.seed)
    return result


def _freezes_batchnorm(cfg: TrainConfig) -> bool:
    """train.batchnorm resolved: 'auto' freezes pretrained statistics, not random ones."""
    if cfg.train.batchnorm == "auto":
        return cfg.model.pretrained != "none"
    return cfg.train.batchnorm == "frozen"


def _epoch(run: Run, epoch: int) -> bool:
    """Train one epoch, evaluate, keep checkpoints; True when training should stop."""
    cfg, ctx, state = run.cfg, run.ctx, run.state
    seed_everything(cfg.train.seed * 100_003 + epoch * 101 + ctx.rank)
    started = time.perf_counter()
    loss = train_one_epoch(
        run.step,
        run.loader,
        run.optimizer,
        run.scheduler,
        ctx.device,
        amp=run.scaler is not None,
        scaler=run.scaler,
        progress=cfg.train.progress and ctx.is_main,
        desc=f"epoch {epoch}/{cfg.train.epochs}",
        frozen_norm=run.model.backbone if _freezes_batchnorm(cfg) else None,
    )
    train_s = time.perf_counter() - started
    stop = False
    if ctx.is_main:
        metrics = {"epoch": float(epoch), "train_loss": loss, "train_s": train_s}
        metrics.update(validate(run, run.model, epoch).metrics)
        state.epoch = epoch
        state.history.append(metrics)
        improved = state.update(cfg.train.early_stop_metric, metrics)
        _save(run, "last.pt", metrics)
        if improved:
            _save(run, "best.pt", metrics)
        write_metrics_csv(run.out / "metrics.csv", state.history)
        plot_curves(run.out / "curves.png", state.history)
        log.info(
            "epoch %d: loss %.4f, %s %.4f (%.1f s)",
            epoch,
            loss,
            cfg.train.early_stop_metric,
            metrics[cfg.train.early_stop_metric],
            train_s,
        )
        stop = state.bad_epochs >= cfg.train.patience
    return broadcast_flag(ctx, stop)


def _save(run: Run, name: str, metrics: dict[str, float]) -> None:
    resume = {
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "loss": run.loss.state_dict(),
        "scaler": run.scaler.state_dict() if run.scaler is not None else {},
        "loop": run.state.to_dict(),
    }
    save_checkpoint(
        run.out / name,
        config=run.cfg,
        epoch=run.state.epoch,
        metrics=metrics,
        input_spec=run.spec,
        threshold=None,
        training=run.summary,
        model=run.model,
        label_names=run.label_names,
        resume=resume,
    )


def _finish(run: Run) -> ThresholdSpec | None:
    """Calibrate the unknown threshold with the best model; store it; write the README."""
    best = run.out / "best.pt"
    if not best.is_file():  # resumed after the last epoch, or no epoch ran
        _save(run, "best.pt", run.state.history[-1])
    model = load_checkpoint(best).build_model().to(run.ctx.device)
    result = validate(run, model, run.state.best_epoch, umap=False)
    threshold = None
    level = run.cfg.calibration.level
    known, unknown = result.scores(level)
    if len(known) and len(unknown):
        target = run.cfg.calibration.target_false_unknown_rate
        plural = "encounters (mean embeddings)" if level == "encounter" else "chips"
        where = f"val: {len(known)} known, {len(unknown)} unknown {plural}"
        threshold, _ = calibrate(known, unknown, target, where)
        for name in ("best.pt", "last.pt"):
            if (run.out / name).is_file():
                store_threshold(run.out / name, threshold)
    else:
        log.warning("no calibration: val needs queries of known and of held-out individuals")
    calibration = threshold.model_dump(mode="json") if threshold else None
    (run.out / "calibration.json").write_text(json.dumps(calibration, indent=2) + "\n")
    _write_readme(run, threshold)
    return threshold


def _write_readme(run: Run, threshold: ThresholdSpec | None) -> None:
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
        f"Unknown threshold: {threshold.value if threshold else 'not calibrated'}\n\n"
        "Files: config.yaml, split/, metrics.csv, curves.png, umap/, best.pt, last.pt, "
        "calibration.json. Reproduce: `bear-train fit --config config.yaml`.\n"
    )
    (run.out / "README.md").write_text(text, encoding="utf-8")
