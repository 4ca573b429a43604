"""A chip a box sent (bytes, SHA-256, embedding) recorded at the station.

`store_chip` puts the bytes in the media folder, then writes the rows inside the
caller's transaction: ``media`` (the bytes, once), ``chip_media`` (this box chip
has these bytes, once per agent id and file) and ``embeddings`` (the chip's
embedding under the box's model, once per model). Every insert does nothing when
the row is there already, so a chip sent twice (or by two writers at once)
changes nothing the second time. Bytes written for a transaction that then rolls
back stay in the folder, unreferenced: a resend finds them and records the rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, select

from bearstation.ingest.sql import insert_ignore
from bearstation.media.errors import ChipUploadInvalid, MediaConflict, MediaTypeRefused
from bearstation.media.store import MediaStore, checked_sha256
from bearstation.media.types import sniff
from bearstation.tables import chip_media, embeddings, media

Embedding = npt.NDArray[np.float32]


@dataclass(frozen=True)
class ChipUpload:
    """One chip as a box sends it; `file` is the relative path its events carry."""

    agent_id: str
    file: str
    sha256: str
    data: bytes
    content_type: str
    encounter_id: str | None
    site: str
    camera: str
    captured_at: datetime
    model_sha256: str | None
    embedding: Embedding | None

    def __post_init__(self) -> None:
        where = f"chip {self.agent_id}:{self.file}"
        for name in ("agent_id", "file", "site", "camera"):
            value = getattr(self, name)
            if not value or "\x00" in value:
                raise ChipUploadInvalid(f"{where}: {name} is empty or holds a NUL")
        if self.captured_at.tzinfo is None or self.captured_at.utcoffset() is None:
            raise ChipUploadInvalid(
                f"{where}: captured_at {self.captured_at.isoformat()} has no UTC offset"
            )
        if (self.embedding is None) != (self.model_sha256 is None):
            raise ChipUploadInvalid(
                f"{where}: an embedding comes with the SHA-256 of the model that made it "
                "(both or neither)"
            )
        if self.model_sha256 is not None:
            checked_sha256(self.model_sha256)
        if self.embedding is not None:
            _check_embedding(where, self.embedding)

    @property
    def captured_offset_min(self) -> int:
        """The capture time's UTC offset in minutes (the camera's local time)."""
        offset = self.captured_at.utcoffset()
        assert offset is not None  # checked in __post_init__
        return int(offset.total_seconds() // 60)


def _check_embedding(where: str, embedding: Embedding) -> None:
    if not isinstance(embedding, np.ndarray) or embedding.dtype != np.float32:
        raise ChipUploadInvalid(f"{where}: the embedding must be a float32 numpy array")
    if embedding.ndim != 1 or embedding.size == 0:
        raise ChipUploadInvalid(
            f"{where}: the embedding must be one non-empty vector, not shape {embedding.shape}"
        )
    if not np.isfinite(embedding).all():
        raise ChipUploadInvalid(f"{where}: the embedding holds NaN or infinity")


def store_chip(
    conn: Connection, store: MediaStore, upload: ChipUpload, *, now: datetime | None = None
) -> bool:
    """Store `upload`'s bytes and rows in `conn`'s transaction; True when the bytes were new."""
    where = f"chip {upload.agent_id}:{upload.file}"
    if upload.content_type not in store.content_types:
        raise MediaTypeRefused(
            f"{where}: content type {upload.content_type!r} is not kept; the store keeps "
            f"{', '.join(sorted(store.content_types))} (media.content_types)"
        )
    sniffed = sniff(upload.data)
    if sniffed is not None and sniffed != upload.content_type:
        raise MediaTypeRefused(
            f"{where}: sent as {upload.content_type} but its bytes are {sniffed}; "
            "nothing was stored"
        )
    store.put(upload.data, upload.sha256)  # checks size, hash and type
    sha256 = upload.sha256.lower()
    received = now or datetime.now(UTC)
    new_bytes = insert_ignore(
        conn,
        media,
        {
            "sha256": sha256,
            "size": len(upload.data),
            "content_type": upload.content_type,
            "stored_at": received,
        },
    )
    _record_chip(conn, upload, sha256, received)
    if upload.embedding is not None and upload.model_sha256 is not None:
        vector = np.ascontiguousarray(upload.embedding, dtype="<f4")
        insert_ignore(
            conn,
            embeddings,
            {
                "sha256": sha256,
                "model_sha256": upload.model_sha256.lower(),
                "dim": int(vector.size),
                "vector": vector.tobytes(),
            },
        )
    return new_bytes


def _record_chip(conn: Connection, upload: ChipUpload, sha256: str, received: datetime) -> None:
    inserted = insert_ignore(
        conn,
        chip_media,
        {
            "agent_id": upload.agent_id,
            "file": upload.file,
            "sha256": sha256,
            "encounter_id": upload.encounter_id,
            "site": upload.site,
            "camera": upload.camera,
            "captured_at": upload.captured_at,
            "captured_offset_min": upload.captured_offset_min,
            "received_at": received,
        },
    )
    if inserted:
        return
    held = chip_sha256(conn, upload.agent_id, upload.file)
    if held is not None and held != sha256:
        raise MediaConflict(
            f"chip {upload.agent_id}:{upload.file} is stored with bytes {held} already; "
            f"these are {sha256}: a box sends one file once (was it replaced on the box?)"
        )


def chip_sha256(conn: Connection, agent_id: str, file: str) -> str | None:
    """The SHA-256 of box chip (`agent_id`, `file`), or None when the station has no bytes."""
    found = conn.execute(
        select(chip_media.c.sha256).where(
            chip_media.c.agent_id == agent_id, chip_media.c.file == file
        )
    ).scalar_one_or_none()
    return None if found is None else str(found)


def embedding_of(conn: Connection, sha256: str, model_sha256: str) -> Embedding | None:
    """The stored embedding of the bytes `sha256` under model `model_sha256`, or None."""
    vector = conn.execute(
        select(embeddings.c.vector).where(
            embeddings.c.sha256 == sha256.lower(),
            embeddings.c.model_sha256 == model_sha256.lower(),
        )
    ).scalar_one_or_none()
    return None if vector is None else np.frombuffer(vector, dtype="<f4").astype(np.float32)
