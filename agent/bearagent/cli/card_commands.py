"""``bearagent card``: verify and print the card of a model, as the agent does with a model."""

from __future__ import annotations

from pathlib import Path

import click

from bearagent.cli.group import main
from bearagent.modelcard import card_to_json, load_model_card


@main.command("card")
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
def card_command(model: Path) -> None:
    """Verify MODEL's model card (embedded and sidecar, sha256) and print it as JSON."""
    click.echo(card_to_json(load_model_card(model)), nl=False)
