"""``bear-station``: a thin command line over the station's library; every command's
errors are one-line ``Error: ...`` messages. Importing each command module registers
its commands on the group."""

from bearstation.cli import (
    desk_commands,
    export_commands,
    identity_commands,
    media_commands,
    model_commands,
    run_commands,
)
from bearstation.cli.group import main

__all__ = [
    "desk_commands",
    "export_commands",
    "identity_commands",
    "main",
    "media_commands",
    "model_commands",
    "run_commands",
]
