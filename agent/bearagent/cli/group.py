"""The ``bearagent`` command group; each command module adds its commands to it."""

from __future__ import annotations

import click

from bearagent.clikit import ErrorReportingGroup, version_option


@click.group(cls=ErrorReportingGroup)
@version_option()
def main() -> None:
    """bearid's field agent: recognise individual bears in camera-trap face chips."""
