"""What the desk's pages and commands show, as plain frozen records (templates read only
these)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class DeskUser:
    """Who acts at the desk: the name given at login (or on the command line) and the
    address it came from."""

    name: str
    client: str = ""


@dataclass(frozen=True)
class ChipCard:
    """One chip of an encounter: its file on the box and its bytes in the media store."""

    file: str
    sha256: str | None  # None: the box has not sent its bytes (yet)
    captured_at: datetime
    rejected: bool


@dataclass(frozen=True)
class CandidateCard:
    """One of the encounter's top-k individuals, as the fleet gallery knows it now."""

    individual_id: str  # as the box's decision named it
    label: str  # its name, else its id (the one it was merged into, when merged)
    similarity: float
    kind: str  # named | provisional | gone (the fleet gallery does not know it)
    now_id: str  # where a merge led (= individual_id when not merged)
    references: tuple[str, ...]  # SHA-256 of reference chips to show
    reference_count: int


@dataclass(frozen=True)
class CommandView:
    """A decision made at the desk about one box's encounter, and the box's answer."""

    command_id: str
    agent_id: str
    encounter_id: str
    action: str
    individual_id: str | None
    name: str | None
    files: tuple[str, ...] | None
    note: str | None
    undoes: str | None
    by: str
    client: str
    created_at: datetime
    state: str  # waiting | applied | refused
    sends: int
    sent_at: datetime | None
    answered_at: datetime | None
    answer_event_id: str | None
    reason: str | None

    @property
    def what(self) -> str:
        """The decision in a few words."""
        if self.action == "assign":
            named = f"{self.name} ({self.individual_id})" if self.name else self.individual_id
            return f"assign to {named}"
        if self.action == "create":
            return f"new individual {self.name!r}"
        if self.action == "reject":
            count = "every chip" if self.files is None else f"{len(self.files)} chip(s)"
            return f"reject {count} as {(self.note or '').replace('_', ' ')}"
        if self.action == "undo":
            return f"undo decision {self.undoes}"
        return self.action

    @property
    def status(self) -> str:
        """Where it stands: ``waiting for BOX``, ``applied by BOX``, ``refused by BOX: ...``."""
        if self.state == "waiting":
            return f"waiting for {self.agent_id}"
        if self.state == "refused":
            return f"refused by {self.agent_id}: {self.reason or 'no reason given'}"
        return f"applied by {self.agent_id}"


@dataclass(frozen=True)
class EncounterCard:
    """One box's encounter as the station holds it, with what the desk shows beside it."""

    ref: int  # the station's row id
    agent_id: str
    encounter_id: str
    site: str
    camera: str
    started_at: datetime
    last_captured_at: datetime
    chip_count: int
    state: str  # open | ended | merged
    merged_into: str | None
    status: str  # known | review | unknown | rejected
    individual_id: str | None
    label: str | None  # the individual's name (fleet gallery), else its id
    decided_by: str  # machine | human
    score_name: str
    score: float
    similarity: float
    known_threshold: float
    unknown_threshold: float
    threshold_source: str
    model_sha256: str
    chips: tuple[ChipCard, ...] = ()
    candidates: tuple[CandidateCard, ...] = ()
    commands: tuple[CommandView, ...] = ()  # newest first

    @property
    def key(self) -> str:
        """``<agent_id>/<encounter_id>``: its address on the desk."""
        return f"{self.agent_id}/{self.encounter_id}"

    @property
    def anchor(self) -> str:
        """An HTML id for it."""
        return f"e-{self.agent_id}-{self.encounter_id}"

    @property
    def ended(self) -> bool:
        """Whether the box has ended it (a decision about an open one waits on the box)."""
        return self.state != "open"

    @property
    def waiting(self) -> CommandView | None:
        """The decision still waiting for the box, if any."""
        return next((c for c in self.commands if c.state == "waiting"), None)

    @property
    def proposal(self) -> CandidateCard | None:
        """What *confirm* accepts: its own individual, else the best candidate."""
        if self.individual_id is not None:
            return None
        return next((c for c in self.candidates if c.kind != "gone"), None)


@dataclass(frozen=True)
class QueueFilters:
    """What the queue shows: outcome, box, site, camera, capture dates, page."""

    status: str = ""  # "" (review and unknown) | review | unknown
    agent_id: str = ""
    site: str = ""
    camera: str = ""
    date_from: str = ""  # YYYY-MM-DD, capture date (UTC)
    date_to: str = ""
    page: int = 1

    def query(self, **change: Any) -> str:
        """The query string of these filters (with `change`), for links."""
        from urllib.parse import urlencode

        values = {"status": self.status, "box": self.agent_id, "site": self.site,
                  "camera": self.camera, "from": self.date_from, "to": self.date_to,
                  "page": self.page, **change}  # fmt: skip
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue."""

    encounters: tuple[EncounterCard, ...]
    total: int
    page: int
    pages: int
    boxes: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    cameras: tuple[str, ...] = ()


@dataclass(frozen=True)
class IndividualCard:
    """An individual of the fleet gallery with reference chips to show."""

    id: str
    name: str | None
    provisional: bool
    origin: str
    merged_into: str | None
    reference_count: int
    references: tuple[str, ...] = ()
    boxes: tuple[str, ...] = field(default=())  # boxes with encounters of it

    @property
    def label(self) -> str:
        """Its name, else its id."""
        return self.name or self.id
