"""``bearagent``: the field agent's command line.

The watch/match/publish commands arrive with the agent itself; today it can read
and verify a model card, which is what the agent does first with any model.
"""

from __future__ import annotations

from pathlib import Path

import click

from bearagent.clikit import ErrorReportingGroup, version_option
from bearagent.modelcard import card_to_json, load_model_card


@click.group(cls=ErrorReportingGroup)
@version_option()
def main() -> None:
    """bearid's field agent: recognise individual bears in camera-trap face chips."""


@main.command("card")
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
def card_command(model: Path) -> None:
    """Verify MODEL's model card (embedded and sidecar, sha256) and print it as JSON."""
    click.echo(card_to_json(load_model_card(model)), nl=False)
