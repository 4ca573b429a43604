"""``bear-train``: the workstation command line (one module per group of commands)."""

from beartrain.cli import data_commands, detector_commands, synth_commands, train_commands
from beartrain.cli.group import main

__all__ = ["data_commands", "detector_commands", "main", "synth_commands", "train_commands"]
