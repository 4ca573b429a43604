"""The demo's command line: the whole system in one command (``tools/demo.sh``)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import click

from bearagent.clikit import version_option
from bearagent.errors import BearIdError
from bearid_dev.demo.options import DemoOptions
from bearid_dev.demo.run import run_demo


class ErrorReportingCommand(click.Command):
    """A bearid error (no broker, a failed export) becomes one ``Error: ...`` line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BearIdError as e:
            raise click.ClickException(str(e)) from e


@click.command("demo", cls=ErrorReportingCommand)
@version_option()
@click.option(
    "--chips",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="A real chips folder <individual>/<image> instead of synthetic bears.",
)
@click.option(
    "--workdir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where to work (default: a new temporary folder).",
)
@click.option(
    "--individuals", default=12, show_default=True, help="Synthetic bears in the gallery."
)
@click.option("--strangers", default=2, show_default=True, help="Synthetic bears nobody has seen.")
@click.option("--epochs", default=8, show_default=True, help="Training epochs.")
@click.option("--seed", default=0, show_default=True, help="Seed of data and training.")
@click.option(
    "--frames",
    is_flag=True,
    help="Cameras write whole frames (and one video clip) instead of face chips: the demo "
    "also trains a face detector, and the agent runs it (model/detector.onnx).",
)
@click.option(
    "--review",
    is_flag=True,
    help="End by serving the review page on the demo's database (it prints the address and "
    "a one-time password) until Ctrl-C.",
)
def main(
    chips: Path | None,
    workdir: Path | None,
    individuals: int,
    strangers: int,
    epochs: int,
    seed: int,
    frames: bool,
    review: bool,
) -> None:
    """Train on synthetic bears, export, enrol, run the agent with a private broker, drop
    chips like camera traps, print the MQTT messages and how many encounters were right;
    with --frames, the cameras write whole frames and a clip, and a detector cuts the chips;
    with --review, then let a person correct them on the review page."""
    folder = workdir or Path(tempfile.mkdtemp(prefix="bearid-demo-"))
    run_demo(
        DemoOptions(
            workdir=folder,
            chips=chips,
            individuals=individuals,
            strangers=strangers,
            epochs=epochs,
            seed=seed,
            review=review,
            frames=frames,
        ),
        say=lambda line: click.echo(line),
    )
