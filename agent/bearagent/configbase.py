"""The one base of every configuration section: frozen, and an unknown key is an error
that names it (a typo in a config file must never be silently ignored)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A configuration section: frozen; unknown keys are errors that name the key."""

    model_config = ConfigDict(extra="forbid", frozen=True)
