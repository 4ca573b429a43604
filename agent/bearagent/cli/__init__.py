"""``bearagent``: the field agent's command line (one module per group of commands)."""

from bearagent.cli import (
    card_commands,
    gallery_commands,
    ops_commands,
    review_commands,
    run_commands,
)
from bearagent.cli.group import main

__all__ = [
    "card_commands",
    "gallery_commands",
    "main",
    "ops_commands",
    "review_commands",
    "run_commands",
]
