"""bearagent: the field agent of bearid, and the contracts every part shares.

The agent watches camera-trap folders, embeds face chips with an exported model,
matches them against an SQLite gallery and publishes over MQTT. This package must
never import torch: `beartrain` and `bearexport` depend on it, not the reverse.
"""

__version__ = "0.1.0"
