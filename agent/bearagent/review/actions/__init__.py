"""Every change the review page makes, as a library the page and the tests call.

Each action is ONE SQLite transaction (``BEGIN IMMEDIATE``, on the caller's own
connection, beside the running agent): the audit row, the sightings and
encounter rows, the gallery changes (individuals, references and their
thumbnails), and the ``correction`` event in the outbox commit together or not
at all. Every old value an action replaces is kept in its audit row, so the last
action can be undone exactly (`ReviewService.undo`).
"""

from bearagent.review.actions.base import ActionResult
from bearagent.review.actions.reviewer import Reviewer
from bearagent.review.actions.service import ReviewService

__all__ = ["ActionResult", "ReviewService", "Reviewer"]
