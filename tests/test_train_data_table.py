"""A wildlife-datasets style metadata table (CSV or Parquet) drives indexing and splitting."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from PIL import Image

from beartrain.cli import main
from beartrain.data import DataConfig, MetadataError, index_folder
from beartrain.data.splitfile import SUBSETS, read_split

#: As the collection ships BrownBearHeads-like sets: images in dated folders, not per bear.
COLUMNS = ("image_id", "identity", "path", "date", "video")


def write_dataset(root: Path) -> list[dict[str, object]]:
    """8 bears, each seen in 4 videos of 3 frames and 2 undated single photos."""
    rng = np.random.default_rng(0)
    rows: list[dict[str, object]] = []
    for bear in range(8):
        for v in range(4):
            for frame in range(3):
                path = f"images/2021-08-{10 + v:02d}/bear{bear}_v{v}_f{frame}.jpg"
                when = datetime(2021, 8, 10 + v, 10, bear, frame)
                rows.append({"identity": f"B{bear:03d}", "path": path, "date": when,
                             "video": f"vid-{bear}-{v}"})  # fmt: skip
        for n in range(2):
            path = f"images/loose/{bear * 10 + n}.jpg"
            rows.append({"identity": f"B{bear:03d}", "path": path, "date": None, "video": None})
    rows.append(
        {"identity": "unknown", "path": "images/loose/who.jpg", "date": None, "video": None}
    )
    for i, row in enumerate(rows):
        row["image_id"] = i
        target = root / str(row["path"])
        target.parent.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (6, 6, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
        Image.fromarray(pixels).save(target)
    return rows


def write_parquet(path: Path, rows: list[dict[str, object]]) -> Path:
    pq.write_table(pa.Table.from_pylist([{c: r[c] for c in COLUMNS} for r in rows]), path)
    return path


def write_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for r in rows:
            writer.writerow({c: "" if r[c] is None else r[c] for c in COLUMNS})
    return path


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_table_lists_the_chips_with_identity_date_and_video(tmp_path: Path, fmt: str) -> None:
    root = tmp_path / "BrownBearHeads"
    rows = write_dataset(root)
    writer = write_parquet if fmt == "parquet" else write_csv
    table = writer(tmp_path / f"metadata.{fmt}", rows)
    index = index_folder(DataConfig(metadata_csv=table), root)
    assert len(index.rows) == len(rows) - 1  # the unlabelled image is left out
    assert {r.individual for r in index.rows} == {f"B{b:03d}" for b in range(8)}
    by_encounter: defaultdict[str, set[str]] = defaultdict(set)
    for row in index.rows:
        by_encounter[row.encounter].add(row.path)
    # each video is one encounter, whatever the folders say
    assert sum(1 for e in by_encounter if e.startswith("video:")) == 32
    dated = [c for c in index.chips if c.captured_at is not None and c.source == "metadata"]
    assert len(dated) == 8 * 12


def test_split_and_fit_inputs_from_a_table(tmp_path: Path) -> None:
    root = tmp_path / "BrownBearHeads"
    rows = write_dataset(root)
    table = write_parquet(tmp_path / "metadata.parquet", rows)
    out = tmp_path / "split"
    args = ["split", str(root), "--metadata", str(table), "--kind", "open", "--seed", "1"]
    result = CliRunner().invoke(main, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    split = read_split(out)
    sides: defaultdict[str, set[str]] = defaultdict(set)
    for name in SUBSETS:
        for row in split.subset(name):
            assert (root / row.path).is_file()
            sides[row.encounter].add(name)
    assert all(len(s) == 1 for s in sides.values())
    assert len(split.train) + len(split.val) + len(split.test) == len(rows) - 1


def test_table_mistakes_are_named(tmp_path: Path) -> None:
    root = tmp_path / "data"
    rows = write_dataset(root)
    (root / str(rows[0]["path"])).unlink()
    table = write_parquet(tmp_path / "m.parquet", rows)
    with pytest.raises(MetadataError) as e:
        index_folder(DataConfig(metadata_csv=table), root)
    assert str(e.value) == (
        f"metadata table {table} lists 1 chips that are not in {root} (first: "
        f"{rows[0]['path']}): paths must be relative to the chips folder"
    )
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(MetadataError, match="is not a readable Parquet file"):
        index_folder(DataConfig(metadata_csv=tmp_path / "bad.parquet"), root)
