"""The review page as a Starlette application (needs the ``review`` extra)."""

from bearagent.review.web.app import create_app

__all__ = ["create_app"]
