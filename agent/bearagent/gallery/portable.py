"""Export the gallery to one portable file and import it elsewhere.

The file is JSON (gzip-compressed when its name ends in ``.gz``)::

    {"format": "bearid-gallery", "format_version": 2,
     "exported_at": "2026-11-27T12:00:00+00:00",
     "model_sha256": "<sha256 of the ONNX model the embeddings came from, or null>",
     "embedding_size": 128,
     "individuals": [
       {"id": "bear-0001", "name": "Otis", "kind": "known", "created": "...", "notes": "",
        "references": [{"source": "/data/otis/1.jpg", "created": "...",
                        "embedding": "<base64 of embedding_size float32 little-endian>",
                        "thumbnail": "<base64 of a small JPEG, or null>"}]}]}

Sightings are not exported: they are the box's history, not what it recognises.
Version 2 added each reference's ``thumbnail`` (so the pictures travel with the
gallery); version 1 files still import. A reader refuses an unknown ``format_version``.
"""

from __future__ import annotations

import base64
import binascii
import gzip
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import sqlite_utils
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bearagent.gallery.codec import from_blob, to_blob
from bearagent.gallery.errors import GalleryFileInvalid
from bearagent.gallery.individuals import list_individuals
from bearagent.gallery.references import gallery_models
from bearagent.gallery.writes import now_iso, reading

FORMAT = "bearid-gallery"
FORMAT_VERSION = 2


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PortableReference(_Strict):
    """One reference embedding in an export file."""

    source: str
    created: str
    embedding: str = Field(description="base64 of float32 little-endian values")
    thumbnail: str | None = Field(default=None, description="base64 of a small JPEG")


class PortableIndividual(_Strict):
    """One individual with its references in an export file."""

    id: str
    name: str | None
    kind: Literal["known", "provisional"]
    created: str
    notes: str = ""
    references: list[PortableReference]


class PortableGallery(_Strict):
    """The whole export file."""

    format: Literal["bearid-gallery"]
    format_version: Literal[1, 2]
    exported_at: str
    model_sha256: str | None = Field(pattern=r"^[0-9a-f]{64}$")
    embedding_size: int | None = Field(ge=1)
    individuals: list[PortableIndividual]


def decode_embedding(ref: PortableReference, size: int, source: str) -> np.ndarray:
    """A reference's embedding as float32, or `GalleryFileInvalid`."""
    try:
        raw = base64.b64decode(ref.embedding, validate=True)
    except binascii.Error as e:
        raise GalleryFileInvalid(f"{source}: an embedding is not valid base64 ({e})") from e
    if len(raw) != 4 * size:
        raise GalleryFileInvalid(
            f"{source}: an embedding of {ref.source} has {len(raw)} bytes, expected {4 * size}"
        )
    return from_blob(raw, size)


def to_portable(db: sqlite_utils.Database) -> PortableGallery:
    """The gallery as a `PortableGallery`."""
    with reading(db):
        models = gallery_models(db)
        thumbs = "thumbnails" in db.table_names()  # galleries from before thumbnails have none
        individuals = []
        size: int | None = None
        for ind in list_individuals(db):
            # The agent's provisional references have no thumbnail of their own yet: their
            # chip's (``source`` is the chip's file) stands in.
            jpeg = (
                "coalesce(t.jpeg, (SELECT c.jpeg FROM sightings s JOIN thumbnails c ON"
                " c.kind = 'sighting' AND c.owner_id = s.id WHERE s.file = r.source"
                " ORDER BY s.id DESC LIMIT 1))"
                if thumbs
                else "NULL"
            )
            join = " LEFT JOIN thumbnails t ON t.kind = 'reference' AND t.owner_id = r.id"
            rows = db.execute(
                f"SELECT r.source, r.created, r.embedding, r.dim, {jpeg} FROM"
                f" reference_embeddings r{join if thumbs else ''} WHERE r.individual_id = ?"
                " ORDER BY r.id",
                [ind.id],
            ).fetchall()
            refs = [
                PortableReference(
                    source=r[0], created=r[1], embedding=_b64(r[2]), thumbnail=_jpeg64(r[4])
                )
                for r in rows
            ]
            size = int(rows[0][3]) if rows else size
            individuals.append(
                PortableIndividual(
                    id=ind.id,
                    name=ind.name,
                    kind=ind.kind,
                    created=ind.created,
                    notes=ind.notes,
                    references=refs,
                )
            )
    return PortableGallery(
        format=FORMAT,
        format_version=FORMAT_VERSION,
        exported_at=now_iso(),
        model_sha256=models[0] if models else None,
        embedding_size=size,
        individuals=individuals,
    )


def _jpeg64(jpeg: bytes | None) -> str | None:
    return None if jpeg is None else base64.b64encode(jpeg).decode("ascii")


def decode_thumbnail(ref: PortableReference) -> tuple[bytes, int, int] | None:
    """A reference's thumbnail from an export file (None when absent or unreadable)."""
    if ref.thumbnail is None:
        return None
    try:
        jpeg = base64.b64decode(ref.thumbnail, validate=True)
    except binascii.Error:
        return None
    image = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return None
    return jpeg, int(image.shape[1]), int(image.shape[0])


def _b64(blob: bytes) -> str:
    return base64.b64encode(to_blob(np.frombuffer(blob, dtype="<f4"))).decode("ascii")


@dataclass
class ExportReport:
    """What an export wrote."""

    path: Path
    individuals: int
    references: int
    model_sha256: str | None = None
    notes: list[str] = field(default_factory=list)


def export_gallery(db: sqlite_utils.Database, path: Path) -> ExportReport:
    """Write the gallery to `path` (gzip when it ends in ``.gz``), atomically."""
    portable = to_portable(db)
    data = portable.model_dump_json(indent=1).encode("utf-8")
    if path.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    refs = sum(len(i.references) for i in portable.individuals)
    return ExportReport(path, len(portable.individuals), refs, portable.model_sha256)


def read_portable(path: Path) -> PortableGallery:
    """Read and validate an export file, or `GalleryFileInvalid` saying what is wrong."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as e:
        raise GalleryFileInvalid(f"gallery file {path} does not exist") from e
    try:
        text = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        return PortableGallery.model_validate_json(text)
    except (OSError, EOFError) as e:
        raise GalleryFileInvalid(f"{path} is a damaged gzip file ({e})") from e
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        raise GalleryFileInvalid(
            f"{path} is not a bearid gallery export ({where}: {first['msg']}): export it "
            "with `bearagent gallery export FILE`"
        ) from e
