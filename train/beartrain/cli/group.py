"""The ``bear-train`` command group; each command module adds its commands to it."""

from __future__ import annotations

import click

from bearagent.clikit import ErrorReportingGroup, version_option


@click.group(cls=ErrorReportingGroup)
@version_option()
def main() -> None:
    """Train and evaluate bear-face embedders with metric learning."""
