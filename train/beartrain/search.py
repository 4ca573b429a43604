"""``bear-train search``: hyper-parameter search with Optuna over the config's search space.

The space maps dotted config keys (``optimizer.lr``, ``loss.name``,
``model.embedding_size``, ...) to distributions; each sampled value is written to
exactly that key of the trial's config (so a sampled weight decay can never land
in the learning rate). Each trial is a short fit in ``<out>/trial_NNNN``; the
study lives in an RDB storage (SQLite in ``<out>/study.db`` by default, or any
URL, so several machines can share a study); ``leaderboard.csv`` and
``best.yaml`` summarise it.
"""

from __future__ import annotations

import csv
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import yaml

from bearagent.errors import BearIdError
from beartrain.config import SearchParam, SearchSection, TrainConfig, build_config
from beartrain.training import ComponentError, fit

log = logging.getLogger(__name__)


class SearchError(BearIdError):
    """A search space or study that cannot be used."""


@dataclass
class SearchResult:
    """The outcome of a search."""

    best_value: float
    best_params: dict[str, Any]
    best_trial_dir: Path
    leaderboard: Path
    trials: int


def suggest(trial: optuna.Trial, space: dict[str, SearchParam]) -> dict[str, Any]:
    """Sample one value per dotted key of `space`; the trial's param name is the key."""
    params: dict[str, Any] = {}
    for key, p in space.items():
        if p.kind == "categorical":
            if not p.choices:
                raise SearchError(f"search.space.{key}: a categorical needs a list of choices")
            params[key] = trial.suggest_categorical(key, p.choices)
            continue
        if p.low is None or p.high is None:
            raise SearchError(f"search.space.{key}: a {p.kind} range needs low and high")
        if p.kind == "int":
            params[key] = trial.suggest_int(key, int(p.low), int(p.high), log=p.log)
        else:
            params[key] = trial.suggest_float(key, p.low, p.high, log=p.log)
    return params


def trial_config(tree: dict[str, Any], params: dict[str, Any]) -> TrainConfig:
    """The base config with each sampled value at its own key, shortened for a trial."""
    base = build_config(tree)
    overrides = {
        **params,
        "train.epochs": base.search.trial_epochs,
        "train.umap": False,
        "train.progress": False,
    }
    return build_config(tree, overrides)


def _sampler(cfg: SearchSection, seed: int) -> optuna.samplers.BaseSampler:
    if cfg.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def search(tree: dict[str, Any], out: Path, trials: int) -> SearchResult:
    """Run `trials` trials of the study described by `tree`'s search section."""
    base = build_config(tree)
    cfg = base.search
    if not cfg.space:
        raise SearchError("search.space is empty: add e.g. optimizer.lr: {kind: float, ...}")
    out.mkdir(parents=True, exist_ok=True)
    pruner: optuna.pruners.BasePruner = (
        optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
        if cfg.prune
        else optuna.pruners.NopPruner()
    )
    study = optuna.create_study(
        study_name=cfg.study_name,
        storage=cfg.storage or f"sqlite:///{(out / 'study.db').resolve()}",
        sampler=_sampler(cfg, base.train.seed),
        pruner=pruner,
        direction="maximize",
        load_if_exists=True,
    )

    def objective(trial: optuna.Trial) -> float:
        params = suggest(trial, cfg.space)
        run_dir = out / f"trial_{trial.number:04d}"
        trial.set_user_attr("run_dir", str(run_dir))

        def report(epoch: int, metrics: dict[str, float]) -> None:
            value = metrics.get(cfg.metric, math.nan)
            if not math.isnan(value):
                trial.report(value, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"epoch {epoch}: {cfg.metric} {value:.4f}")

        result = fit(trial_config(tree, params), run_dir, on_epoch=report)
        values = [row.get(cfg.metric, math.nan) for row in result.history if row["epoch"] > 0]
        best = max((v for v in values if not math.isnan(v)), default=math.nan)
        if math.isnan(best):
            raise SearchError(f"search.metric {cfg.metric!r} was not measured in the trial")
        return best

    # A combination the components refuse (e.g. loss parameters) fails that trial only.
    study.optimize(objective, n_trials=trials, catch=(ComponentError,))
    return _summarise(study, out)


def _summarise(study: optuna.Study, out: Path) -> SearchResult:
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        raise SearchError("no trial completed: see the trial folders' logs")
    ranked = sorted(study.trials, key=lambda t: -(t.value if t.value is not None else -math.inf))
    keys = sorted({k for t in study.trials for k in t.params})
    board = out / "leaderboard.csv"
    with board.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["rank", "trial", "state", "value", *keys, "run_dir"])
        for rank, t in enumerate(ranked, 1):
            row = [t.params.get(k, "") for k in keys]
            writer.writerow(
                [rank, t.number, t.state.name, t.value, *row, t.user_attrs.get("run_dir")]
            )
    best = study.best_trial
    best_doc = {"value": best.value, "trial": best.number, "params": best.params}
    (out / "best.yaml").write_text(yaml.safe_dump(best_doc, sort_keys=False), encoding="utf-8")
    return SearchResult(
        float(best.value or math.nan),
        dict(best.params),
        Path(best.user_attrs["run_dir"]),
        board,
        len(study.trials),
    )
