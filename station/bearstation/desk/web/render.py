"""Rendering a desk page (`bearagent.webkit.render`) and finding the desk's state."""

from __future__ import annotations

from starlette.requests import Request

from bearagent.webkit.render import back_to, client_address, flash, render
from bearstation.desk.views import DeskUser
from bearstation.desk.web.state import DeskState

__all__ = ["back_to", "desk_state", "flash", "render", "user_of"]


def desk_state(request: Request) -> DeskState:
    """The desk's state."""
    state: DeskState = request.app.state.web
    return state


def user_of(request: Request) -> DeskUser:
    """Who is acting: the name given at login, and the address it came from."""
    return DeskUser(str(request.session.get("user") or "reviewer"), client_address(request))
