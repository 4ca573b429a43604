"""``bear-train fit``, ``evaluate`` and ``search``: training and measuring embedders."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click
import yaml

from beartrain.cli.group import main
from beartrain.config import TrainConfig, TrainConfigError, load_config, parse_overrides

_SET_HELP = "Override a config value: --set optimizer.lr=1e-3 (repeatable)."


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")


def _default_out(config: Path | None) -> Path:
    return Path("runs") / (config.stem if config else "default")


@main.command("fit")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="YAML config (train/configs/ has examples); defaults apply where it is silent.",
)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=_SET_HELP)
@click.option(
    "--out", type=click.Path(path_type=Path, file_okay=False), help="Run folder [runs/<config>]."
)
@click.option(
    "--resume", type=click.Path(path_type=Path), help="Continue from a checkpoint (last.pt)."
)
def fit_command(
    config_path: Path | None, overrides: tuple[str, ...], out: Path | None, resume: Path | None
) -> None:
    """Train an embedder on a split; writes checkpoints, metrics and plots to the run folder."""
    _fit(load_config(config_path, parse_overrides(overrides)), config_path, out, resume)


@main.command("distill")
@click.option(
    "--teacher",
    required=True,
    type=click.Path(path_type=Path, exists=True),
    help="The teacher: a run folder (its best.pt) or a checkpoint of any backbone and size.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="YAML config of the student (e.g. train/configs/cattle-lite0.yaml).",
)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=_SET_HELP)
@click.option(
    "--out", type=click.Path(path_type=Path, file_okay=False), help="Run folder [runs/<config>]."
)
def distill_command(
    teacher: Path, config_path: Path | None, overrides: tuple[str, ...], out: Path | None
) -> None:
    """Train the student of the config to reproduce TEACHER's embeddings and relations.

    The same as fit with distill.teacher set (weights: distill.metric_weight,
    embedding_weight, relation_weight); the run folder holds an ordinary student
    checkpoint for bear-export.
    """
    values = {**parse_overrides(overrides), "distill.teacher": str(teacher)}
    _fit(load_config(config_path, values), config_path, out, None)


def _fit(cfg: TrainConfig, config_path: Path | None, out: Path | None, resume: Path | None) -> None:
    from beartrain.training import fit  # torch: only when training

    _logging()
    run_dir = out or (resume.parent if resume else _default_out(config_path))
    result = fit(cfg, run_dir, resume=resume)
    best = next(r for r in result.history if r["epoch"] == result.best_epoch)
    metric = cfg.train.early_stop_metric
    d = result.decision
    rule = (
        f"decision rule {d.score}: known >= {d.known_threshold:.4f}, unknown < "
        f"{d.unknown_threshold:.4f}"
        if d
        else "no decision rule calibrated"
    )
    tracks = (
        f"same-individual {result.tracks.same_individual:.4f}" if result.tracks else "no tracks"
    )
    click.echo(
        f"best epoch {result.best_epoch}: {metric} {best.get(metric, float('nan')):.4f}; "
        f"{rule}; {tracks}"
    )
    click.echo(f"run folder: {run_dir}")


@main.command("evaluate")
@click.argument("run", type=click.Path(path_type=Path, exists=True))
@click.option(
    "--split",
    "subset",
    type=click.Choice(["train", "val", "test"]),
    default="test",
    show_default=True,
    help="Which subset of the run's split to evaluate on.",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N].")
def evaluate_command(run: Path, subset: str, device: str) -> None:
    """Accuracy@k and open-set figures of RUN (folder or .pt) as Markdown and CSV."""
    from beartrain.evaluation.report import evaluate_run

    report = evaluate_run(run, subset, device=device)
    click.echo(report.markdown())
    click.echo("written: " + ", ".join(str(p) for p in report.files))


@main.command("search")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="YAML config (train/configs/ has examples); defaults apply where it is silent.",
)
@click.option(
    "--space",
    type=click.Path(path_type=Path, dir_okay=False),
    help="YAML with a search section (space, sampler, storage...) replacing the config's.",
)
@click.option("--trials", default=20, show_default=True, help="Trials to run (in this process).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=_SET_HELP)
@click.option(
    "--out", type=click.Path(path_type=Path, file_okay=False), help="Study folder [runs/search]."
)
def search_command(
    config_path: Path | None,
    space: Path | None,
    trials: int,
    overrides: tuple[str, ...],
    out: Path | None,
) -> None:
    """Search hyper-parameters with Optuna: one run folder per trial and a leaderboard."""
    from beartrain.config import set_dotted
    from beartrain.search import search

    _logging()
    tree: dict[str, Any] = _read_yaml(config_path) if config_path else {}
    if space is not None:
        doc = _read_yaml(space)
        tree["search"] = doc.get("search", doc)
    for key, value in parse_overrides(overrides).items():
        set_dotted(tree, key, value)
    result = search(tree, out or Path("runs") / "search", trials)
    click.echo(f"{result.trials} trials; best {result.best_value:.4f} with {result.best_params}")
    click.echo(f"best run: {result.best_trial_dir}; leaderboard: {result.leaderboard}")


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise TrainConfigError(f"cannot read {path}: {e}") from e
    if not isinstance(doc, dict):
        raise TrainConfigError(f"{path} must be a YAML mapping")
    return doc
