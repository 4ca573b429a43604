"""Sets of the wildlife-datasets collection (BrownBearHeads and ~30 others) as metadata tables.

With the `wildlife-datasets` package installed, ``bear-train split ROOT
--wildlife-dataset BrownBearHeads`` reads the set's own table through it
(``datasets.<Name>(ROOT).df``: identity, path, date, video, ...). Without the
package, give the table the set ships (or any CSV/Parquet export of that
dataframe) with ``--metadata``: bear-train reads the same columns itself.
"""

from __future__ import annotations

from pathlib import Path

from beartrain.data.errors import MetadataError

#: The columns bear-train reads from a collection's dataframe (the rest are ignored).
COLUMNS = ("identity", "path", "date", "video", "encounter", "camera")


def wildlife_table(name: str, root: Path, out: Path) -> Path:
    """Write the metadata of collection set `name` at `root` as a Parquet table `out`."""
    try:
        from wildlife_datasets import datasets
    except ImportError as e:
        raise MetadataError(
            "--wildlife-dataset needs the wildlife-datasets package (pip install "
            "wildlife-datasets); without it, pass the set's metadata table with --metadata"
        ) from e
    cls = getattr(datasets, name, None)
    if cls is None:
        raise MetadataError(
            f"wildlife-datasets has no dataset {name!r}: use a class name of "
            "wildlife_datasets.datasets, e.g. BrownBearHeads"
        )
    frame = cls(str(root)).df
    import pyarrow as pa
    import pyarrow.parquet as pq

    keep = [c for c in COLUMNS if c in frame.columns]
    rows = frame[keep].astype(object).where(frame[keep].notna(), None).to_dict("records")
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist([{k: _plain(v) for k, v in r.items()} for r in rows]), out)
    return out


def _plain(value: object) -> object:
    """Parquet-friendly cells: timestamps as ISO text, the rest as text."""
    if value is None:
        return None
    iso = getattr(value, "isoformat", None)
    return iso() if callable(iso) else str(value)
