"""``python -m bearstation``: the `bear-station` program without its script."""

from bearstation.cli import main

if __name__ == "__main__":
    main()
