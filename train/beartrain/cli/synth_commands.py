"""``bear-train synth``: write a synthetic population of face chips."""

from __future__ import annotations

from pathlib import Path

import click

from beartrain.cli.group import main
from beartrain.synthetic import SyntheticConfig, write_population


@main.command("synth")
@click.argument("root", type=click.Path(path_type=Path, file_okay=False))
@click.option("--individuals", default=12, show_default=True, help="How many individuals.")
@click.option(
    "--first-index",
    default=0,
    show_default=True,
    help="Index of the first individual, for a second population disjoint from the first.",
)
@click.option(
    "--encounters",
    default=(3, 6),
    nargs=2,
    type=int,
    show_default=True,
    help="Min and max encounters per individual.",
)
@click.option(
    "--frames",
    default=(2, 5),
    nargs=2,
    type=int,
    show_default=True,
    help="Min and max frames per encounter (burst length).",
)
@click.option("--cameras", default=4, show_default=True, help="How many cameras.")
@click.option("--size", default=128, show_default=True, help="Chip side in pixels.")
@click.option(
    "--nuisance", default=1.0, show_default=True, help="Strength of pose/light/blur/noise, 0 to 1."
)
@click.option(
    "--seed", default=0, show_default=True, help="Seed: the same seed writes the same files."
)
def synth_command(
    root: Path,
    individuals: int,
    first_index: int,
    encounters: tuple[int, int],
    frames: tuple[int, int],
    cameras: int,
    size: int,
    nuisance: float,
    seed: int,
) -> None:
    """Write a synthetic population of face chips to ROOT/<individual>/<image>.jpg."""
    cfg = SyntheticConfig(
        individuals=individuals,
        first_index=first_index,
        min_encounters=encounters[0],
        max_encounters=encounters[1],
        min_frames=frames[0],
        max_frames=frames[1],
        cameras=cameras,
        size=size,
        nuisance=nuisance,
        seed=seed,
    )
    records = write_population(root, cfg)
    n_enc = len({r.encounter for r in records})
    click.echo(
        f"wrote {len(records)} chips of {individuals} individuals in {n_enc} encounters to {root}"
    )
