"""``bear-train fit``, ``evaluate`` and ``search``: training and measuring embedders."""
