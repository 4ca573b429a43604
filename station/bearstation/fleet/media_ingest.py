"""A box's ``chip`` message into the media store (bytes once, its rows, its embedding).

Runs inside the ingest transaction. A chip the store refuses for what it is (a hash
that does not match, a type it does not keep) is a `ChipRefused` the ingest puts in
the quarantine with the reason; a media folder that cannot be written (disk full)
is `StorageUnavailable`: nothing is acknowledged and the chip comes again.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

import numpy as np
from sqlalchemy import Connection

from bearstation.errors import StationError
from bearstation.ingest.fields import parse_time
from bearstation.media.errors import MediaRefused, MediaUnavailable
from bearstation.media.records import ChipUpload, store_chip
from bearstation.media.store import MediaStore
from bearstation.messages import Event


class ChipRefused(StationError):
    """A chip message the media store will never take as it is (quarantined, with why)."""


class MediaFolderUnavailable(StationError):
    """The media folder cannot be written now: retry the batch later."""


def chip_upload(event: Event) -> ChipUpload:
    """The `ChipUpload` a ``chip`` message describes."""
    body = event.body
    try:
        data = base64.b64decode(body["data"], validate=True)
        embedding = None
        if body["embedding"] is not None:
            raw = base64.b64decode(body["embedding"]["data"], validate=True)
            embedding = np.frombuffer(raw, dtype="<f4").astype(np.float32)
            if embedding.size != int(body["embedding"]["dim"]):
                raise ChipRefused(
                    f"chip {event.agent_id}:{body['file']}: its embedding has "
                    f"{embedding.size} values, not the {body['embedding']['dim']} it says"
                )
    except (binascii.Error, ValueError) as e:
        raise ChipRefused(f"chip {event.agent_id}:{body['file']}: bad base64 ({e})") from e
    if len(data) != int(body["size"]):
        raise ChipRefused(
            f"chip {event.agent_id}:{body['file']}: {len(data)} bytes, not the {body['size']} "
            "it says"
        )
    try:
        return ChipUpload(
            agent_id=event.agent_id,
            file=body["file"],
            sha256=body["sha256"],
            data=data,
            content_type=body["content_type"],
            encounter_id=body["encounter_id"],
            site=body["site"],
            camera=body["camera"],
            captured_at=parse_time(body["captured_at"], "captured_at"),
            model_sha256=body["model"]["sha256"] if embedding is not None else None,
            embedding=embedding,
        )
    except MediaRefused as e:
        raise ChipRefused(str(e)) from e


def store_chip_message(
    conn: Connection, store: MediaStore, event: Event, received_at: datetime
) -> bool:
    """Store a ``chip`` message's bytes and rows; True when the bytes were new."""
    upload = chip_upload(event)
    try:
        return store_chip(conn, store, upload, now=received_at)
    except MediaRefused as e:
        raise ChipRefused(str(e)) from e
    except MediaUnavailable as e:
        raise MediaFolderUnavailable(str(e)) from e
