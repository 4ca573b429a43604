"""Writing the secr and oSCR files of `secr.SecrData` (each beside its target, then renamed
into place, so a failed export leaves the previous files whole)."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from sqlalchemy import Engine

from bearstation.errors import ExportError
from bearstation.exports.capture_history import occasion_length
from bearstation.exports.secr import SecrData, SecrOptions, build_secr


def export_secr(engine: Engine, directory: Path, options: SecrOptions) -> SecrData:
    """Write the secr and oSCR inputs of the database into `directory`; returns the data."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":  # every query sees one state of the database
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        data = build_secr(conn, options)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ExportError(f"cannot create the export folder {directory}: {e.strerror}") from None
    for name, text in secr_texts(data).items():
        _write(directory / name, text)
    return data


def secr_texts(data: SecrData) -> dict[str, str]:
    """Each file's name and text."""
    return {
        "captures.txt": captures_txt(data),
        "traps.txt": traps_txt(data),
        "oscr_edf.csv": _csv(
            ["session", "individual", "occasion", "trap"],
            [[data.options.session, d.individual, d.occasion, d.trap_id] for d in data.detections],
        ),
        "oscr_tdf.csv": _csv(
            ["trap", "x", "y", *(f"usage.{k + 1}" for k in range(len(data.starts)))],
            [
                [t.trap_id, f"{t.x:.2f}", f"{t.y:.2f}", *(int(u > 0) for u in t.usage)]
                for t in data.traps
            ],
        ),
        "occasions.csv": _csv(["occasion", "label", "first_day", "last_day"], _occasions(data)),
        "detectors.csv": _csv(
            ["trapID", "deploymentID", "latitude", "longitude", "x", "y", "operating_days"],
            [
                [
                    *(t.trap_id, t.deployment.deployment_id),
                    *(t.deployment.latitude, t.deployment.longitude),
                    *(f"{t.x:.2f}", f"{t.y:.2f}", sum(t.usage)),
                ]
                for t in data.traps
            ],
        ),
        "individuals.csv": _csv(
            ["ID", "label", "named", "detections"],
            [
                [i, label, str(named).lower(), sum(d.individual == i for d in data.detections)]
                for i, (label, named) in data.individuals.items()
            ],
        ),
        "README.md": readme(data),
    }


def captures_txt(data: SecrData) -> str:
    """secr's capture file, trapID format: one line per detection (counts by repetition)."""
    lines = ["# Session ID Occasion Detector"]
    lines += [
        f"{data.options.session} {d.individual} {d.occasion} {d.trap_id}" for d in data.detections
    ]
    return "\n".join(lines) + "\n"


def traps_txt(data: SecrData) -> str:
    """secr's detector layout with a usage code (days operating) per occasion."""
    kind = "one day" if data.options.occasion == "day" else "one ISO week"
    lines = [
        f"# bearid cameras as detectors, {data.projection.description}, x and y in metres",
        f"# usage: days operating in each occasion ({kind}; occasions.csv dates them)",
        "# Detector X Y Usage",
    ]
    lines += [
        f"{t.trap_id} {t.x:.2f} {t.y:.2f} {' '.join(str(u) for u in t.usage)}" for t in data.traps
    ]
    return "\n".join(lines) + "\n"


def _occasions(data: SecrData) -> list[list[object]]:
    span = occasion_length(data.options.occasion) - occasion_length("day")
    return [
        [k + 1, label, start.isoformat(), (start + span).isoformat()]
        for k, (label, start) in enumerate(zip(data.occasion_labels, data.starts, strict=True))
    ]


def readme(data: SecrData) -> str:
    """What the folder holds and how R reads it."""
    o, labels = data.options, data.occasion_labels
    usage_rule = (
        "a day with a chip from the camera, or one on which its box was running\n  (its stats "
        "and status messages)"
        if o.usage == "evidence"
        else "every day from the camera's first chip to its last"
    )
    return f"""# Spatial capture-recapture inputs from bear-station

- Session `{o.session}`: {len(data.traps)} cameras (detectors), {len(data.starts)} occasions
  (one per {o.occasion}, {labels[0]} to {labels[-1]}; `occasions.csv`),
  {len(data.individuals)} individuals{" (named only)" if o.named_only else ""},
  {len(data.detections)} detections (one per encounter).
- Coordinates: {data.projection.description}; x and y in metres.
- Usage: days each camera operated in each occasion (usage rule `{o.usage}`): a day
  counts as operating when it lies between the camera's first and last chip and is
  {usage_rule}.
- `detectors.csv` and `individuals.csv` map the ids back to cameras and bears.

```r
library(secr)
ch <- read.capthist("captures.txt", "traps.txt", fmt = "trapID", detector = "count")
# usage as effort (days per occasion) instead of 0/1:
ch <- read.capthist("captures.txt", "traps.txt", fmt = "trapID", detector = "count",
                    binary.usage = FALSE)

library(oSCR)
edf <- read.csv("oscr_edf.csv")
tdf <- read.csv("oscr_tdf.csv")
data <- data2oscr(edf, sess.col = 1, id.col = 2, occ.col = 3, trap.col = 4,
                  tdf = list(tdf), K = {len(data.starts)}, ntraps = {len(data.traps)})
```
"""


def _csv(header: list[str], rows: list[list[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _write(target: Path, text: str) -> None:
    temp = target.with_name(f".{target.name}.part")
    try:
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, target)
    except OSError as e:
        temp.unlink(missing_ok=True)
        raise ExportError(f"cannot write {target}: {e.strerror}") from None
