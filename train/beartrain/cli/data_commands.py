"""``bear-train inspect`` and ``bear-train split``: looking at a chips folder and splitting it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from beartrain.cli.group import main
from beartrain.data.config import DataConfig
from beartrain.data.inspect import format_report, inspect_folder
from beartrain.data.plot import plot_distribution
from beartrain.data.wildlife import wildlife_table
from beartrain.splits import KINDS, SplitConfig, format_summary, split_folder

F = TypeVar("F", bound=Callable[..., Any])
_ROOT = click.Path(path_type=Path, exists=True, file_okay=False)


def _data_options(command: F) -> F:
    """--metadata, --wildlife-dataset, --content and --encounter-gap (commands that index)."""
    command = click.option(
        "--content",
        type=click.Choice(["hash", "backbone", "both", "none"]),
        default=DataConfig.model_fields["content_grouping"].default,
        show_default=True,
        help="How chips without capture time are grouped by content: perceptual hash, "
        "frozen-backbone cosine, both, or none (names only; can leak).",
    )(command)
    command = click.option(
        "--wildlife-dataset",
        metavar="NAME",
        help="Read ROOT's metadata through the wildlife-datasets package "
        "(e.g. BrownBearHeads); needs the package.",
    )(command)
    command = click.option(
        "--encounter-gap",
        type=click.FloatRange(min=0, min_open=True),
        default=DataConfig.model_fields["encounter_gap_s"].default,
        show_default=True,
        help="Seconds between chips of one individual and camera that still make one encounter.",
    )(command)
    return click.option(
        "--metadata",
        type=click.Path(path_type=Path, exists=True, dir_okay=False),
        help="Metadata table (CSV or Parquet): path, individual, camera, captured_at, "
        "encounter, or wildlife-datasets' identity, path, date, video; its values win, and "
        "when it names every chip's individual it lists the chips.",
    )(command)


def _data_config(root: Path, options: dict[str, Any], scratch: Path) -> DataConfig:
    """The DataConfig of the shared data options (a wildlife-datasets table into `scratch`)."""
    metadata = options.pop("metadata")
    name = options.pop("wildlife_dataset")
    if name is not None:
        if metadata is not None:
            raise click.UsageError("give --metadata or --wildlife-dataset, not both")
        metadata = wildlife_table(name, root, scratch / f"{name}.parquet")
    return DataConfig(
        metadata_csv=metadata,
        encounter_gap_s=options.pop("encounter_gap"),
        content_grouping=options.pop("content"),
    )


@main.command("inspect")
@click.argument("root", type=_ROOT)
@_data_options
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    help="Folder for the plot inspect-<rootname>.png.  [default: current folder]",
)
@click.option("--limit", default=10, show_default=True, help="Chips listed per list.")
def inspect_command(root: Path, out: Path, limit: int, **data: Any) -> None:
    """Count the chips, individuals and encounters in ROOT/<individual>/<image> (or a table)."""
    cfg = _data_config(root, data, out)
    report = inspect_folder(cfg, root)
    plot = plot_distribution(report, out / f"inspect-{root.resolve().name}.png")
    click.echo(format_report(report, limit))
    click.echo(f"\nplot: {plot}")


@main.command("split")
@click.argument("root", type=_ROOT)
@click.option("--kind", type=click.Choice(KINDS), required=True, help="Open or disjoint set.")
@click.option("--seed", type=int, required=True, help="The same seed gives the same split.")
@click.option(
    "--out", type=click.Path(path_type=Path, file_okay=False), required=True, help="Split folder."
)
@click.option("--val-share", default=0.15, show_default=True, help="Share for val.")
@click.option("--test-share", default=0.15, show_default=True, help="Share for test.")
@click.option(
    "--holdout-share",
    type=float,
    help="Open split: share of individuals held out of train entirely.  [default: 0.2]",
)
@_data_options
def split_command(
    root: Path,
    kind: str,
    seed: int,
    out: Path,
    val_share: float,
    test_share: float,
    holdout_share: float | None,
    **data: Any,
) -> None:
    """Split ROOT into train/val/test CSVs without cutting an encounter in two.

    Open: whole encounters go to each side, and a share of individuals is held out
    of train (val and test then hold bears the gallery lacks); val and test shares
    are of the known individuals' chips. Disjoint: val and test shares are of
    individuals, and no individual is on two sides.
    """
    if kind == "disjoint" and holdout_share is not None:
        raise click.UsageError("--holdout-share applies to open splits only")
    cfg = SplitConfig(
        kind="open" if kind == "open" else "disjoint",
        seed=seed,
        val_share=val_share,
        test_share=test_share,
        holdout_share=0.2 if holdout_share is None else holdout_share,
    )
    split = split_folder(root, _data_config(root, data, out), cfg, out)
    click.echo(format_summary(split.summary))
    if split.kind == "open":
        held_out = split.summary["held_out"]
        click.echo(f"held out of train: {len(held_out)} individuals: {json.dumps(held_out)}")
    click.echo(f"wrote {out}")
