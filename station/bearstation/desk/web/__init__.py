"""The review desk as a Starlette application (needs the ``review`` extra)."""

from bearstation.desk.web.app import create_app

__all__ = ["create_app"]
