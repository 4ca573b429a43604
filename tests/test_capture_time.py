"""A chip's capture time: sidecar, then EXIF, then the file name, then mtime."""

from __future__ import annotations

import io
import json
import logging
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bearagent.chips import Detection, FileNamePattern, capture_time, read_sidecar, sidecar_path
from bearagent.chips.config import CaptureConfig
from bearagent.config import AgentConfig, ConfigError, load_config

OSLO = timezone(timedelta(hours=2))
NAMES = FileNamePattern(timezone=UTC)


def jpeg(exif_time: str | None = None) -> bytes:
    image = Image.fromarray(np.full((16, 16, 3), 128, np.uint8))
    exif = Image.Exif()
    if exif_time:
        exif.get_ifd(0x8769)[0x9003] = exif_time
    buf = io.BytesIO()
    image.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def write(folder: Path, name: str, data: bytes, mtime: datetime) -> Path:
    path = folder / name
    path.write_bytes(data)
    os.utime(path, (mtime.timestamp(), mtime.timestamp()))
    return path


def dated(path: Path, root: Path) -> tuple[datetime, str, Detection | None]:
    c = capture_time(path, path.relative_to(root).as_posix(), path.read_bytes(),
                     path.stat().st_mtime, NAMES, UTC)  # fmt: skip
    return c.when, c.source, c.detection


COPIED = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("cam10_20260701-140000_00000.jpg", datetime(2026, 7, 1, 14, 0, tzinfo=UTC)),
        ("IMG_20260701_140005.jpg", datetime(2026, 7, 1, 14, 0, 5, tzinfo=UTC)),
        ("2026-07-01 14-00-10.jpg", datetime(2026, 7, 1, 14, 0, 10, tzinfo=UTC)),
        ("SiteA__Cam10__2026-07-01__14-00-15(2).JPG", datetime(2026, 7, 1, 14, 0, 15, tzinfo=UTC)),
        (
            "20250401093214_20250401093754_0018_cls0.jpg",
            datetime(2025, 4, 1, 9, 32, 14, tzinfo=UTC),
        ),
    ],
)
def test_names_carry_the_capture_time(tmp_path: Path, name: str, expected: datetime) -> None:
    when, source, _ = dated(write(tmp_path, name, jpeg(), COPIED), tmp_path)
    assert (when, source) == (expected, "filename")


def test_no_time_anywhere_falls_back_to_mtime(tmp_path: Path) -> None:
    for name in ("IMG_0001.JPG", "001.jpg", "img_0963_cascade_0_head_1.jpg"):
        assert dated(write(tmp_path, name, jpeg(), COPIED), tmp_path)[:2] == (COPIED, "mtime")


def test_exif_beats_the_name_and_the_sidecar_beats_exif(tmp_path: Path) -> None:
    chip = write(tmp_path, "cam10_20260701-140000_00000.jpg", jpeg("2026:07:01 15:30:00"), COPIED)
    assert dated(chip, tmp_path)[:2] == (datetime(2026, 7, 1, 15, 30, tzinfo=UTC), "exif")
    sidecar_path(chip).write_text(
        json.dumps(
            {
                "captured_at": "2026-07-01T16:45:00+02:00",
                "source_frame": "DCIM/100RECNX/RCNX0042.JPG",
                "box": [10, 20, 300, 240],
                "score": 0.93,
                "detector": "bear-face-det v2",
            }
        )
    )
    when, source, detection = dated(chip, tmp_path)
    assert (when, source) == (datetime(2026, 7, 1, 16, 45, tzinfo=OSLO), "sidecar")
    assert detection == Detection("DCIM/100RECNX/RCNX0042.JPG", (10, 20, 300, 240), 0.93,
                                  "bear-face-det v2")  # fmt: skip


def test_a_sidecar_wins_over_mtime_and_naive_times_take_the_timezone(tmp_path: Path) -> None:
    chip = write(tmp_path, "crop_0001.jpg", jpeg(), COPIED)
    sidecar_path(chip).write_text('{"captured_at": "2026-07-01T14:00:00"}')
    c = capture_time(chip, chip.name, chip.read_bytes(), chip.stat().st_mtime, NAMES, OSLO)
    assert (c.when, c.source, c.detection) == (datetime(2026, 7, 1, 14, 0, tzinfo=OSLO),
                                               "sidecar", None)  # fmt: skip


def test_a_broken_sidecar_is_named_in_the_log_and_the_chip_is_dated_next_best(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    chip = write(tmp_path, "cam10_20260701-140000_00000.jpg", jpeg(), COPIED)
    sidecar_path(chip).write_text("{not json")
    with caplog.at_level(logging.WARNING):
        assert dated(chip, tmp_path)[1] == "filename"
    assert f"ignoring sidecar {sidecar_path(chip)}" in caplog.text
    sidecar_path(chip).write_text('{"captured_at": "yesterday", "box": [1, 2]}')
    with caplog.at_level(logging.WARNING):
        assert read_sidecar(chip, UTC) is None or dated(chip, tmp_path)[1] == "filename"
    assert "captured_at 'yesterday' is not ISO 8601" in caplog.text
    assert "box must be [x, y, width, height]" in caplog.text


def test_capture_config_refuses_a_broken_pattern_with_its_key(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text('[capture]\nfilename_pattern = "(?P<time>"\n')
    with pytest.raises(ConfigError, match=r"capture\.filename_pattern"):
        load_config(AgentConfig, config)
    assert CaptureConfig().sidecars is True
