"""``bear-station``: a thin command line over the station's library; every command's
errors are one-line ``Error: ...`` messages."""

import bearstation.cli.media_commands  # noqa: F401 (registers 'bear-station media')
import bearstation.cli.model_commands  # noqa: F401 (registers 'bear-station model')
from bearstation.cli import desk_commands, export_commands, identity_commands, run_commands
from bearstation.cli.group import main

__all__ = ["desk_commands", "export_commands", "identity_commands", "main", "run_commands"]
