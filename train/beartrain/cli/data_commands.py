"""``bear-train inspect`` and ``bear-train split``: looking at a chips folder and splitting it."""
