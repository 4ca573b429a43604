"""Chips as a box sends them to the station: real JPEG bytes, their SHA-256, an embedding."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable
from datetime import datetime

import numpy as np
from PIL import Image

from bearstation.media.records import ChipUpload
from support.station_payloads import MODEL, Message


def jpeg_chip(seed: int, size: int = 32) -> bytes:
    """A small JPEG of blocky noise; different seeds give different bytes."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size // 8, size // 8, 3), dtype=np.uint8)
    image = Image.fromarray(pixels.repeat(8, 0).repeat(8, 1))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def upload(
    agent_id: str,
    file: str,
    data: bytes,
    captured_at: datetime,
    *,
    encounter_id: str | None = None,
    embedding: bool = True,
    content_type: str = "image/jpeg",
    sha256: str | None = None,
) -> ChipUpload:
    """The upload of one chip; `file` is ``site/camera/name`` as the box's events carry it."""
    site, camera = file.split("/")[:2]
    vector = np.random.default_rng(len(data)).standard_normal(8).astype(np.float32)
    return ChipUpload(
        agent_id=agent_id,
        file=file,
        sha256=sha256 or hashlib.sha256(data).hexdigest(),
        data=data,
        content_type=content_type,
        encounter_id=encounter_id,
        site=site,
        camera=camera,
        captured_at=captured_at,
        model_sha256=MODEL.sha256 if embedding else None,
        embedding=vector if embedding else None,
    )


def uploads_of(messages: Iterable[Message], seed: int = 0) -> list[ChipUpload]:
    """One upload per chip the ``end`` events of `messages` list (each with its own bytes)."""
    found: list[ChipUpload] = []
    for topic, payload in messages:
        body = json.loads(payload)
        if not topic.endswith("/sighting") or body.get("type") != "end":
            continue
        for i, chip in enumerate(body["chips"]):
            when = datetime.fromisoformat(chip["captured_at"])
            data = jpeg_chip(seed * 1000 + len(found) + i)
            found.append(
                upload(
                    body["agent_id"], chip["file"], data, when, encounter_id=body["encounter_id"]
                )
            )
    return found
