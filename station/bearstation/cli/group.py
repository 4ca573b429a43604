"""The ``bear-station`` command group; each command module adds its commands to it."""

from __future__ import annotations

import click

from bearagent.clikit import ErrorReportingGroup, version_option


@click.group(cls=ErrorReportingGroup)
@version_option()
def main() -> None:
    """bearid's base station: collect every field box's events into one database, link
    individuals across boxes, export Camtrap DP packages, capture histories and reports."""
