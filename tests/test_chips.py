"""Chip decoding (safe, upright, 8-bit BGR) and card-driven preprocessing."""

from __future__ import annotations

import io
import struct
import zlib
from datetime import datetime, timedelta, timezone
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image

from bearagent.chips import (
    ChipRejected,
    decode_chip,
    preprocess,
    preprocess_batch,
    read_capture_time,
)
from bearagent.modelcard import InputSpec


def spec(**overrides: Any) -> InputSpec:
    base: dict[str, Any] = {
        "height": 32,
        "width": 48,
        "colour_order": "RGB",
        "resize": "stretch",
        "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225],
    }
    return InputSpec.model_validate({**base, **overrides})


def jpeg(image_rgb: np.ndarray, **save: Any) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image_rgb).save(out, "JPEG", quality=95, **save)
    return out.getvalue()


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


RNG = np.random.default_rng(0)
PICTURE = RNG.integers(0, 256, (30, 40, 3), dtype=np.uint8)


# --- preprocessing ---------------------------------------------------------------------


def naive_normalise(image_bgr: np.ndarray, s: InputSpec) -> np.ndarray:
    """Per-pixel loop: the reference for the vectorised code."""
    h, w, _ = image_bgr.shape
    out = np.zeros((3, h, w), np.float32)
    order = [2, 1, 0] if s.colour_order == "RGB" else [0, 1, 2]
    for c in range(3):
        for y in range(h):
            for x in range(w):
                value = image_bgr[y, x, order[c]] / 255.0
                out[c, y, x] = (value - s.mean[c]) / s.std[c]
    return out


@pytest.mark.parametrize("colour", ["RGB", "BGR"])
def test_stretch_matches_a_naive_loop(colour: str) -> None:
    s = spec(colour_order=colour, height=30, width=40)  # same size: resize is the identity
    np.testing.assert_allclose(preprocess(PICTURE, s), naive_normalise(PICTURE, s), atol=1e-5)


def test_output_shape_dtype_and_batch() -> None:
    s = spec()
    one = preprocess(PICTURE, s)
    assert one.shape == (3, 32, 48) and one.dtype == np.float32 and one.flags.c_contiguous
    batch = preprocess_batch([PICTURE, PICTURE[::-1].copy()], s)
    assert batch.shape == (2, 3, 32, 48)
    np.testing.assert_array_equal(batch[0], one)


def test_colour_order_puts_red_first_for_rgb() -> None:
    red_bgr = np.zeros((10, 10, 3), np.uint8)
    red_bgr[..., 2] = 255
    s = spec(mean=[0, 0, 0], std=[1, 1, 1])
    rgb = preprocess(red_bgr, s)
    assert rgb[0].min() == pytest.approx(1.0) and rgb[2].max() == pytest.approx(0.0)
    bgr = preprocess(red_bgr, spec(mean=[0, 0, 0], std=[1, 1, 1], colour_order="BGR"))
    assert bgr[2].min() == pytest.approx(1.0) and bgr[0].max() == pytest.approx(0.0)


def test_letterbox_keeps_aspect_and_pads_with_zero() -> None:
    wide = np.full((20, 80, 3), 200, np.uint8)  # 1:4, into a 32x48 input -> 12x48 band
    out = preprocess(wide, spec(resize="letterbox"))
    content_rows = np.where(np.abs(out).sum(axis=(0, 2)) > 0)[0]
    assert (content_rows.min(), content_rows.max()) == (10, 21)  # centred 12-row band
    assert np.all(out[:, :10] == 0) and np.all(out[:, 22:] == 0)


def test_center_crop_cuts_the_overhang_evenly() -> None:
    image = np.zeros((40, 120, 3), np.uint8)
    image[:, :40] = (255, 0, 0)
    image[:, 40:80] = (0, 255, 0)
    image[:, 80:] = (0, 0, 255)
    out = preprocess(
        image, spec(resize="center_crop", height=32, width=32, mean=[0] * 3, std=[1] * 3)
    )
    # Only the green middle third survives (RGB order: green is channel 1).
    assert out[1].min() == pytest.approx(1.0)
    assert out[0].max() == pytest.approx(0.0) and out[2].max() == pytest.approx(0.0)


def test_preprocess_refuses_a_grey_array() -> None:
    with pytest.raises(ValueError, match=r"expected an \(H, W, 3\) image"):
        preprocess(np.zeros((10, 10), np.uint8), spec())


# --- decoding --------------------------------------------------------------------------


def test_decode_jpeg_to_bgr() -> None:
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[..., 0] = 250  # red
    image = decode_chip(jpeg(rgb))
    assert image.shape == (20, 30, 3) and image.dtype == np.uint8
    assert image[..., 2].mean() > 240 and image[..., 0].mean() < 15


def test_exif_orientation_is_applied() -> None:
    rgb = np.zeros((20, 60, 3), np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    assert decode_chip(jpeg(rgb, exif=exif)).shape == (60, 20, 3)


def test_grayscale_and_16_bit_become_8_bit_bgr() -> None:
    grey = decode_chip(png(Image.fromarray(np.full((8, 8), 77, np.uint8))))
    assert grey.shape == (8, 8, 3) and np.all(grey == 77)
    deep = np.full((8, 8, 3), 40000, np.uint16)
    ok, buf = cv2.imencode(".png", deep)
    assert ok
    image = decode_chip(buf.tobytes())
    assert image.dtype == np.uint8 and np.all(image == 40000 >> 8)


def test_cmyk_and_rgba() -> None:
    cmyk = Image.fromarray(PICTURE).convert("CMYK")
    out = io.BytesIO()
    cmyk.save(out, "JPEG", quality=95)
    assert decode_chip(out.getvalue()).shape == (30, 40, 3)
    rgba = Image.fromarray(np.dstack([PICTURE, np.full((30, 40), 128, np.uint8)]))
    assert decode_chip(png(rgba)).shape == (30, 40, 3)


def png_with_declared_size(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge size (a decompression bomb's signature)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    ihdr = struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    original = png(Image.fromarray(PICTURE))
    return original[:8] + ihdr + original[8 + 25 :]


@pytest.mark.parametrize(
    ("data", "reason", "message"),
    [
        (b"", "empty", "chip.jpg: the file is empty (0 bytes)"),
        (b"hello, I am a text file", "not_an_image", "chip.jpg: not an image file ("),
        (png_with_declared_size(9000, 9000), "too_large", "chip.jpg: declared size 9000x9000 "),
        (png_with_declared_size(60000, 60000), "too_large", "chip.jpg: declared size (over "),
        (
            jpeg(PICTURE)[: len(jpeg(PICTURE)) * 2 // 3],
            "truncated",
            "chip.jpg: the JPEG has no end marker (truncated file)",
        ),
    ],
    ids=["empty", "text", "bomb", "huge-bomb", "truncated"],
)
def test_rejections_carry_a_reason(data: bytes, reason: str, message: str) -> None:
    with pytest.raises(ChipRejected) as e:
        decode_chip(data, source="chip.jpg")
    assert e.value.reason == reason
    assert str(e.value).startswith(message)


def test_unsupported_format() -> None:
    out = io.BytesIO()
    Image.fromarray(PICTURE).save(out, "GIF")
    with pytest.raises(ChipRejected) as e:
        decode_chip(out.getvalue(), source="a.gif")
    assert e.value.reason == "unsupported_format"
    assert str(e.value) == "a.gif: GIF images are not accepted (BMP, JPEG, PNG, TIFF, WEBP)"


def test_max_pixels_is_configurable() -> None:
    with pytest.raises(ChipRejected, match="exceeds the limit of 100 pixels"):
        decode_chip(jpeg(PICTURE), max_pixels=100)


# --- capture time ----------------------------------------------------------------------


def test_capture_time_from_exif_with_and_without_offset() -> None:
    exif = Image.Exif()
    ifd = exif.get_ifd(0x8769)
    ifd[0x9003] = "2026:05:14 06:15:02"
    assert read_capture_time(jpeg(PICTURE, exif=exif)) == datetime(2026, 5, 14, 6, 15, 2)
    ifd[0x9011] = "+02:00"
    assert read_capture_time(jpeg(PICTURE, exif=exif)) == datetime(
        2026, 5, 14, 6, 15, 2, tzinfo=timezone(timedelta(hours=2))
    )


def test_capture_time_absent_or_unreadable() -> None:
    assert read_capture_time(jpeg(PICTURE)) is None
    assert read_capture_time(b"not an image") is None
