"""Who took an action: the name given at login and the address it came from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reviewer:
    """A person on the review page."""

    name: str
    client: str = ""

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("a reviewer has a name")
