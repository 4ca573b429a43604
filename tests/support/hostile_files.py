"""A corpus of hostile and awkward input files, generated at test time (no committed binaries).

Each entry says what the agent must do with it: process it (and as which bear, when
that is knowable), reject it with a reason code, or ignore it (no ledger row at all).
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from beartrain.synthetic import encode_jpeg
from support.agent_world import World


@dataclass(frozen=True)
class Expectation:
    """What must become of one file, by its path relative to the watch root."""

    relative: str
    outcome: str  # "processed", "rejected" or "ignored"
    reason: str | None = None  # the rejection's reason code
    who: str | None = None  # the bear a processed chip must be matched to


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny, valid-looking PNG whose header declares a huge image."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\0" * 1024)  # a little data; decoding would inflate gigabytes
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def _pil_bytes(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def exif_rotated(chip_bgr: np.ndarray) -> bytes:
    """The chip stored turned 90 degrees, with EXIF Orientation 6 saying how to turn it back."""
    stored = cv2.rotate(chip_bgr, cv2.ROTATE_90_COUNTERCLOCKWISE)
    image = Image.fromarray(cv2.cvtColor(stored, cv2.COLOR_BGR2RGB))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display
    return _pil_bytes(image, "JPEG", quality=95, exif=exif)


def sixteen_bit_png(chip_bgr: np.ndarray) -> bytes:
    """The chip as a 16-bit-per-channel PNG."""
    ok, data = cv2.imencode(".png", chip_bgr.astype(np.uint16) * 257)
    if not ok:
        raise ValueError("OpenCV could not encode a 16-bit PNG")
    return bytes(data)


def cmyk_jpeg(chip_bgr: np.ndarray) -> bytes:
    """The chip as a CMYK JPEG (what some print-oriented tools write)."""
    rgb = Image.fromarray(cv2.cvtColor(chip_bgr, cv2.COLOR_BGR2RGB))
    return _pil_bytes(rgb.convert("CMYK"), "JPEG", quality=95)


def grayscale_jpeg(chip_bgr: np.ndarray) -> bytes:
    """The chip as a one-channel JPEG (an infrared night frame)."""
    return _pil_bytes(Image.fromarray(cv2.cvtColor(chip_bgr, cv2.COLOR_BGR2GRAY)), "JPEG")


def write_corpus(world: World, outside: Path) -> list[Expectation]:
    """Write the corpus below ``<traps>/north/hostile`` and return what must become of each."""
    folder = world.traps / "north" / "hostile"
    folder.mkdir(parents=True)
    rel = "north/hostile/"
    bears = list(world.unseen.items())
    (who_a, chips_a), (who_b, chips_b) = bears[0], bears[1]
    record, chip = chips_a[0]
    good = encode_jpeg(chip, record.captured_at)
    out: list[Expectation] = []

    def put(
        name: str | bytes, data: bytes, outcome: str, reason: str | None = None, who: str = ""
    ) -> None:
        path = os.path.join(os.fsencode(folder), os.fsencode(name))
        with open(path, "wb") as f:
            f.write(data)
        relative = rel + os.fsencode(name).decode("utf-8", "backslashreplace")  # as the agent
        out.append(Expectation(relative, outcome, reason, who or None))

    put("zero.jpg", b"", "rejected", "empty")
    put("truncated.jpg", good[: len(good) // 2], "rejected", "truncated")
    put("bomb.png", png_bomb(), "rejected", "too_large")
    put("notes.jpg", b"camera trap log: battery low\n" * 10, "rejected", "not_an_image")
    put("huge.jpg", good, "rejected", "too_large")
    with (folder / "huge.jpg").open("r+b") as f:
        f.truncate(8 * 2**30)  # sparse: reading it all would take minutes and gigabytes
    # Grayscale loses the colour the pixel test model tells bears apart by: processed, any match.
    put("gray.jpg", grayscale_jpeg(chips_b[0][1]), "processed")
    put("deep.png", sixteen_bit_png(chips_b[1][1]), "processed", who=who_b)
    put("cmyk.jpg", cmyk_jpeg(chips_a[1][1]), "processed", who=who_a)
    put("rotated.jpg", exif_rotated(chips_a[2][1]), "processed", who=who_a)
    latin1 = encode_jpeg(chips_b[2][1], record.captured_at)
    put(b"caf\xe9-latin1.jpg", latin1, "processed")  # the name is the point, not the match
    put("x" * (255 - len("-long.jpg")) + "-long.jpg", good, "processed", who=who_a)  # 255 bytes

    secret = outside / "secret.jpg"  # a real chip, but outside the watch root
    unique = chips_b[-1][1].copy()
    unique[0, 0] = 255 - unique[0, 0]  # content of its own, whichever chips were used above
    secret.write_bytes(encode_jpeg(unique, record.captured_at))
    (folder / "escape.jpg").symlink_to(secret)
    out.append(Expectation(rel + "escape.jpg", "rejected", "outside_root"))
    (folder / "album.jpg").mkdir()  # a directory named like an image
    out.append(Expectation(rel + "album.jpg", "ignored"))
    os.mkfifo(folder / "pipe.jpg")  # opening it for reading would block until a writer came
    out.append(Expectation(rel + "pipe.jpg", "ignored"))
    return out
