"""Rendering a page (`bearagent.webkit.render`) and finding the review page's state."""

from __future__ import annotations

from starlette.requests import Request

from bearagent.review.web.state import AppState
from bearagent.webkit.render import back_to, flash, render

__all__ = ["app_state", "back_to", "flash", "render"]


def app_state(request: Request) -> AppState:
    """The application's state."""
    state: AppState = request.app.state.web
    return state
