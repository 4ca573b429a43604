"""``bearagent gallery ...``: enrol, list, rename, remove, promote, export, import, re-embed."""
