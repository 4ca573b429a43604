"""bearstation: the base station of bearid.

`bear-station` collects every field box's MQTT events into one SQLAlchemy
database (SQLite by default, PostgreSQL for a fleet), drops repeats by
`event_id`, quarantines what it cannot read, links individuals across boxes and
exports Camtrap DP packages, capture histories and reports. It never imports
torch.
"""

from bearagent import __version__

__all__ = ["__version__"]
