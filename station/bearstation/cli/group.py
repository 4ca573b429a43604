"""The ``bear-station`` command group; each command module adds its commands to it."""

from __future__ import annotations

import click

from bearagent.clikit import ErrorReportingGroup, version_option


@click.group(cls=ErrorReportingGroup)
@version_option()
def main() -> None:
    """bearid's base station, the fleet's hub: collect every field box's events and chips
    into one database (asking boxes for what went missing), keep the fleet gallery every
    box follows, serve the review desk, roll models out, and export Camtrap DP packages,
    capture histories, secr inputs, training sets and reports."""
