"""Who took an action: the name given at login and the address it came from (and, for a
decision made at the station's desk, the desk's command it applies)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reviewer:
    """A person on the review page."""

    name: str
    client: str = ""
    command_id: str | None = None  # the station desk's command this action applies

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("a reviewer has a name")
