"""The ``[rollout]`` section: how the station offers models and sends their bytes."""

from __future__ import annotations

from pydantic import Field

from bearagent.configbase import Section

#: At most this much of a file in one chunk: a chunk's JSON (base64) must stay well under
#: the box's limit on a station message (8 MiB).
MAX_CHUNK_BYTES = 4 * 1024 * 1024


class RolloutConfig(Section):
    """Model rollout: offers to boxes, and the chunks that answer their fetches."""

    offer_resend_s: float = Field(
        default=60.0,
        gt=0,
        description="An offer a box has not answered is sent again after this long, once the "
        "box has been heard from since (a box that is away keeps the first in its broker "
        "session).",
    )
    chunk_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        le=MAX_CHUNK_BYTES,
        description="Bytes of a file per chunk message (base64 in JSON: a third more on the wire).",
    )
    box_bytes_per_round: int = Field(
        default=8 * 1024 * 1024,
        ge=1024,
        description="Most bytes sent to one box per fleet round (fleet.round_s): one box's "
        "model does not starve the others or fill its broker's queue.",
    )
    round_bytes: int = Field(
        default=32 * 1024 * 1024,
        ge=1024,
        description="Most bytes sent to all boxes together per fleet round.",
    )
