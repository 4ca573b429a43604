"""What a box sends the station besides encounter events: ``chip`` (a chip's original
bytes, SHA-256 and embedding) and ``blank`` (frames its detector found empty)."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from bearagent.wire import jsontext as jt
from bearagent.wire.payloads import SCHEMA_VERSION, ModelRef


@dataclass(frozen=True)
class ChipMedia:
    """One chip as the box sends it to the station."""

    agent_id: str
    file: str  # relative to its watch root, as the encounter's events name it
    sha256: str
    content_type: str
    data: bytes
    site: str
    camera: str
    captured_at: datetime
    encounter_id: str | None
    individual_id: str | None  # its encounter's individual (None in review)
    reference_of: str | None  # the individual whose gallery reference it is, if any
    model: ModelRef
    embedding: np.ndarray | None  # under `model`


def chip_payload(chip: ChipMedia, event_id: uuid.UUID | None = None) -> str:
    """JSON text of a ``chip`` message (the outbox adds stream and seq)."""
    embedding = None
    if chip.embedding is not None:
        vector = np.ascontiguousarray(chip.embedding, dtype="<f4")
        embedding = {"dim": int(vector.size), "data": base64.b64encode(vector.tobytes()).decode()}
    return jt.dumps(
        {
            "schema_version": SCHEMA_VERSION,
            "event": "chip",
            "event_id": str(event_id or uuid.uuid4()),
            "agent_id": jt.text(chip.agent_id),
            "file": jt.text(chip.file),
            "sha256": chip.sha256,
            "content_type": chip.content_type,
            "size": len(chip.data),
            "data": base64.b64encode(chip.data).decode("ascii"),
            "site": jt.text(chip.site),
            "camera": jt.text(chip.camera),
            "captured_at": jt.timestamp(chip.captured_at, "captured_at"),
            "encounter_id": jt.optional_text(chip.encounter_id),
            "individual_id": jt.optional_text(chip.individual_id),
            "reference_of": jt.optional_text(chip.reference_of),
            "model": {"name": jt.text(chip.model.name), "sha256": chip.model.sha256},
            "embedding": embedding,
        }
    )


@dataclass(frozen=True)
class BlankRef:
    """One frame (or clip) the detector found empty."""

    file: str
    site: str
    camera: str
    captured_at: datetime
    time_source: str


def blank_payload(agent_id: str, frames: list[BlankRef], detector: str | None) -> str:
    """JSON text of a ``blank`` message (at most 500 frames; the outbox adds stream and seq)."""
    if not 1 <= len(frames) <= 500:
        raise ValueError(f"a blank message lists 1 to 500 frames, not {len(frames)}")
    return jt.dumps(
        {
            "schema_version": SCHEMA_VERSION,
            "event": "blank",
            "event_id": str(uuid.uuid4()),
            "agent_id": jt.text(agent_id),
            "detector": jt.optional_text(detector),
            "frames": [
                {
                    "file": jt.text(f.file),
                    "site": jt.text(f.site),
                    "camera": jt.text(f.camera),
                    "captured_at": jt.timestamp(f.captured_at, "captured_at"),
                    "time_source": f.time_source,
                }
                for f in frames
            ],
        }
    )
