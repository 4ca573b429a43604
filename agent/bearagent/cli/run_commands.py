"""``bearagent run`` and ``bearagent check-config``: the agent itself and its configuration."""
