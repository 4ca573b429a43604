"""``python -m bearid_dev.demo``: what ``tools/demo.sh`` runs (and names itself after)."""

from bearid_dev.demo.cli import main

main(prog_name="tools/demo.sh")
