"""Leak-free splits without timestamps: crops of one photo and re-encoded copies stay together.

Property tests (hypothesis) on folders written for each example: chips without
any capture time, crops of one source photo named the way detectors name them,
re-encoded or resized copies under unrelated names. For any seed and split kind
every such family lands on one side.
"""

from __future__ import annotations

import io
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from beartrain.data import DataConfig, index_folder
from beartrain.data.content import hamming, perceptual_hash
from beartrain.data.inspect import format_report, inspect_folder
from beartrain.data.splitfile import SUBSETS
from beartrain.splits import SplitConfig, make_split

CROP_NAMES = (
    "{stem}_cascade_{a}_head_{b}",
    "{stem}-object-{b}",
    "{stem}_face{b}",
    "{stem}_crop_{b}",
)
COPY_NAMES = ("copy_{n}", "export {n}", "IMG_{n}_edit", "scan-{n}x")


def photo(rng: np.random.Generator, side: int = 160) -> Image.Image:
    """A smooth random picture: distinct photos differ, crops of one share its pixels."""
    coarse = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)
    big = Image.fromarray(coarse).resize((side, side), Image.Resampling.BICUBIC)
    noisy = np.asarray(big, np.int16) + rng.integers(-6, 7, (side, side, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def reencode(image: Image.Image, how: int, quality: int) -> tuple[Image.Image, str]:
    """A re-encoded (JPEG at another quality, PNG) or resized copy, and its extension."""
    if how == 0:
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=quality)
        return Image.open(buf).copy(), ".jpg"
    if how == 1:
        return image.copy(), ".png"
    side = int(image.width * (0.5 + quality / 100))
    return image.resize((side, side), Image.Resampling.LANCZOS), ".jpg"


@st.composite
def folder_specs(draw: st.DrawFn) -> dict[str, object]:
    return {
        "seed": draw(st.integers(0, 2**31 - 1)),
        "kind": draw(st.sampled_from(["open", "disjoint"])),
        "crop_name": draw(st.sampled_from(CROP_NAMES)),
        "copy_name": draw(st.sampled_from(COPY_NAMES)),
        "margin": draw(st.floats(0.0, 0.25)),
        "how": draw(st.integers(0, 2)),
        "quality": draw(st.integers(30, 95)),
    }


def write_folder(root: Path, spec: dict[str, object]) -> list[set[str]]:
    """6 individuals x 4 photos; per photo either two crops or the photo and a copy.

    Returns the families (chip paths) that must stay on one side.
    """
    rng = np.random.default_rng(int(spec["seed"]))  # type: ignore[call-overload]
    margin, families = float(spec["margin"]), []  # type: ignore[arg-type]
    for i in range(6):
        folder = root / f"ind{i}"
        folder.mkdir(parents=True)
        for p in range(4):
            image, stem = photo(rng), f"img_{rng.integers(1000, 9999)}{p}"
            if p % 2 == 0:  # two overlapping crops of one photo, named by their source
                side, cut = image.width, int(image.width * margin)
                names = []
                for b, box in enumerate(((0, 0, side - cut, side), (cut, cut // 2, side, side))):
                    name = str(spec["crop_name"]).format(stem=stem, a=b, b=b + 1) + ".jpg"
                    image.crop(box).save(folder / name, "JPEG", quality=90)
                    names.append(f"ind{i}/{name}")
                families.append(set(names))
            else:  # the photo and a re-encoded copy under an unrelated name
                image.save(folder / f"{stem}.jpg", "JPEG", quality=92)
                copy, ext = reencode(image, int(spec["how"]), int(spec["quality"]))  # type: ignore[call-overload]
                copy_name = str(spec["copy_name"]).format(n=rng.integers(10, 99)) + ext
                copy.save(folder / copy_name)
                families.append({f"ind{i}/{stem}.jpg", f"ind{i}/{copy_name}"})
    return families


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(spec=folder_specs())
def test_crops_and_reencodings_never_land_on_two_sides(
    spec: dict[str, object], tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.mktemp("chips")
    families = write_folder(root, spec)
    index = index_folder(DataConfig(), root)
    assert {c.source for c in index.chips} == {"mtime"}  # nothing dates these chips
    kind = str(spec["kind"])
    cfg = SplitConfig(kind="open" if kind == "open" else "disjoint", seed=int(spec["seed"]),  # type: ignore[call-overload]
                      val_share=0.2, test_share=0.2)  # fmt: skip
    split = make_split(index.rows, cfg, root)
    side: dict[str, str] = {r.path: name for name in SUBSETS for r in split.subset(name)}
    for family in families:
        assert len({side[p] for p in family}) == 1, (family, {p: side[p] for p in family})


def test_hash_tells_copies_from_other_photos(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = [photo(rng) for _ in range(12)]
    paths = []
    for n, image in enumerate(images):
        image.save(tmp_path / f"p{n}.png")
        copy, ext = reencode(image, 0, 35)
        copy.save(tmp_path / f"c{n}{ext}")
        paths += [tmp_path / f"p{n}.png", tmp_path / f"c{n}{ext}"]
    d = hamming([perceptual_hash(p) for p in paths])
    copies = [d[2 * n, 2 * n + 1] for n in range(12)]
    others = [d[2 * a, 2 * b] for a in range(12) for b in range(a + 1, 12)]
    limit = DataConfig().hash_distance
    assert max(copies) <= 4 < limit < min(others)


def test_inspect_says_how_encounters_were_formed_and_warns(tmp_path: Path) -> None:
    write_folder(tmp_path, {"seed": 1, "crop_name": CROP_NAMES[0], "copy_name": COPY_NAMES[0],
                            "margin": 0.1, "how": 0, "quality": 60})  # fmt: skip
    report = inspect_folder(DataConfig(), tmp_path)
    assert report.formed["stem"][0] == 12  # 6 individuals x 2 cropped photos
    assert report.formed["content+single"] == (12, 24)  # each photo with its copy
    assert len(report.content_only) == 24
    text = format_report(report)
    assert (
        "encounters formed by (encounters, chips):\n  content+single: 12, 24\n  stem: 12, 24"
        in text
    )
    assert "warning: 48 chips (100%) have no reliable capture time" in text
    assert "warning: 50.0% of the chips have no capture time and share an encounter" in text
    off = inspect_folder(DataConfig(content_grouping="none"), tmp_path)
    assert off.formed["single"] == (24, 24) and "content" not in "".join(off.formed)


def test_cli_default_split_keeps_each_numbered_series_on_one_side(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from beartrain.cli import main
    from beartrain.data.splitfile import read_split

    rng = np.random.default_rng(2)
    for i in range(6):
        for n in range(1, 7):  # numbered shots 001.jpg ... of one individual: one series
            (tmp_path / "chips" / f"ind{i}").mkdir(parents=True, exist_ok=True)
            photo(rng).save(tmp_path / "chips" / f"ind{i}" / f"{n:03d}.jpg")
        for n in range(3):
            photo(rng).save(tmp_path / "chips" / f"ind{i}" / f"img_{n}_head_1.jpg")
    out = tmp_path / "split"
    args = ["split", str(tmp_path / "chips"), "--kind", "open", "--seed", "3", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    split = read_split(out)
    sides: defaultdict[str, set[str]] = defaultdict(set)
    for name in SUBSETS:
        for row in split.subset(name):
            if row.path.split("/")[1][0].isdigit():
                sides[row.individual].add(name)
    assert sides and all(len(s) == 1 for s in sides.values())
    assert "numbered undated chips of a folder as one series" in split.summary["data"]["grouping"]
