"""``bear-train fit``: the training loop, per-epoch evaluation, early stopping, calibration.

Run folder: ``config.yaml`` (resolved), ``split/`` (a copy of the split files),
``metrics.csv``, ``curves.png``, ``umap/epoch_NNN.png`` (every train.umap_every
epochs) and ``umap/best_epoch_NNN.png``, ``best.pt`` (best epoch on
train.early_stop_metric, with the calibrated decision rule and track similarity),
``last.pt`` (for ``--resume``), ``start.pt`` (epoch 0), ``calibration.json`` and
``README.md``. The starting point (epoch 0: the pretrained backbone with its LDA or
random head) competes for the best checkpoint too: a fine-tuning that only makes
val worse ends with the model it started from; the README and ``bear-train
evaluate`` show it beside the best epoch.

Each epoch's val figures include, beside the AUROC of every open-set score, what
the rule calibrated on val itself does there (``val_enc_review_share``, ...: in
sample, to follow progress); the stored rule is calibrated once, with the best
model, after training.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bearagent.modelcard import DecisionSpec, TrackSpec
from beartrain.checkpoint import load_checkpoint, save_checkpoint, store_calibration
from beartrain.config import TrainConfig, config_to_yaml
from beartrain.evaluation import CalibrationError, decision_spec, evaluate_subset
from beartrain.evaluation.protocol import SubsetResult
from beartrain.model import Embedder
from beartrain.training.calibrate import RunCalibration, calibrate_run, choose_on, rule_metrics
from beartrain.training.distributed import broadcast_flag, setup, teardown
from beartrain.training.epoch import embed_rows, train_one_epoch
from beartrain.training.prepare import Run, prepare
from beartrain.training.readme import write_readme
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
    decision: DecisionSpec | None
    tracks: TrackSpec | None
    stopped_early: bool

    @property
    def best(self) -> Path:
        """The best checkpoint."""
        return self.run_dir / "best.pt"

    @property
    def last(self) -> Path:
        """The checkpoint of the last epoch."""
        return self.run_dir / "last.pt"


def fit(
    cfg: TrainConfig,
    out: Path,
    resume: Path | None = None,
    on_epoch: EpochCallback | None = None,
    negatives: float = 0.0,
) -> FitResult:
    """Train per `cfg` into the run folder `out` (optionally continuing from `resume`).

    `on_epoch` sees each epoch's metrics (hyper-parameter search prunes with it);
    `negatives` holds that share of the train individuals out of the classes as
    explicit negatives (`beartrain.training.negatives`).
    """
    ctx = setup(cfg.train.device)
    try:
        run = prepare(cfg, out, ctx, load_checkpoint(resume) if resume else None, negatives)
        if ctx.is_main:
            _start_run_folder(run)
        if ctx.is_main and run.state.epoch == 0:
            # Epoch 0: the starting point (pretrained backbone, LDA or random head). It is a
            # candidate for the best checkpoint, so fine-tuning never ends below its start.
            before = validate(run, run.model, 0, umap=_umap_name(cfg, 0)).metrics
            check_metric(cfg.train.early_stop_metric, {"train_loss": 0.0, **before})
            metrics = {"epoch": 0.0, **before}
            run.state.history.append(metrics)
            _save(run, "start.pt", metrics)
            if run.state.update(cfg.train.early_stop_metric, metrics):
                _save(run, "best.pt", metrics)
            log.info(
                "epoch 0 (the start): %s %.4f",
                cfg.train.early_stop_metric,
                metrics[cfg.train.early_stop_metric],
            )
            run.state.bad_epochs = 0  # patience counts training epochs only
        stopped = False
        for epoch in range(run.state.epoch + 1, cfg.train.epochs + 1):
            stopped = _epoch(run, epoch)
            if on_epoch is not None and ctx.is_main:
                on_epoch(epoch, run.state.history[-1])
            if stopped:
                break
        calibrated = _finish(run) if ctx.is_main else None
        decision = calibrated.decision if calibrated else None
        tracks = calibrated.tracks if calibrated else None
        return FitResult(out, run.state.best_epoch, run.state.history, decision, tracks, stopped)
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


def validate(run: Run, model: Embedder, epoch: int, *, umap: str | None = None) -> SubsetResult:
    """Val metrics with gallery = train chips, with the rule calibrated on val in sample.

    `umap` names the plot (under umap/) to draw of the val embeddings, if any.
    """
    cfg = run.cfg
    kwargs = {"batch_size": cfg.eval.batch_size, "num_workers": cfg.train.num_workers}
    root, device = run.split.root, run.ctx.device
    gallery = embed_rows(model, root, run.split.train, run.spec, device, **kwargs)
    val = embed_rows(model, root, run.split.val, run.spec, device, **kwargs)
    result = evaluate_subset(run.split.kind, gallery, val, cfg.eval.ks, "val")
    try:
        choice = choose_on(result, cfg.calibration)
    except CalibrationError:
        choice = None
    if choice is not None:
        spec = decision_spec(choice.calibration, result.level(cfg.calibration.level))
        result.metrics.update(rule_metrics(result, spec, "val"))
    if cfg.train.umap and umap:
        (run.out / "umap").mkdir(exist_ok=True)
        plot_umap(run.out / "umap" / umap, val.embeddings, val.labels, val.known, cfg.train.seed)
    return result


def _umap_name(cfg: TrainConfig, epoch: int) -> str | None:
    """The epoch's UMAP plot, every train.umap_every epochs (and the last one)."""
    if epoch % cfg.train.umap_every == 0 or epoch == cfg.train.epochs:
        return f"epoch_{epoch:03d}.png"
    return None


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
        metrics.update(validate(run, run.model, epoch, umap=_umap_name(cfg, epoch)).metrics)
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
        decision=None,
        tracks=None,
        training=run.summary,
        model=run.model,
        label_names=run.label_names,
        resume=resume,
    )


def _finish(run: Run) -> RunCalibration:
    """Calibrate the rule and the tracks with the best model; store them; write the README."""
    best = run.out / "best.pt"
    if not best.is_file():  # resumed after the last epoch, or no epoch ran
        _save(run, "best.pt", run.state.history[-1])
    model = load_checkpoint(best).build_model().to(run.ctx.device)
    umap = f"best_epoch_{run.state.best_epoch:03d}.png"
    result = validate(run, model, run.state.best_epoch, umap=umap)
    calibrated = calibrate_run(result, run.cfg.calibration)
    for name in ("best.pt", "last.pt"):
        if (run.out / name).is_file():
            store_calibration(run.out / name, calibrated.decision, calibrated.tracks)
    text = json.dumps(calibrated.as_json(), indent=2) + "\n"
    (run.out / "calibration.json").write_text(text, encoding="utf-8")
    write_readme(run, calibrated)
    return calibrated
