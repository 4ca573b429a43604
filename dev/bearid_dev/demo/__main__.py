"""``python -m bearid_dev.demo``: what ``tools/demo.sh`` runs."""

from bearid_dev.demo.cli import main

main()
