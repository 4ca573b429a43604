"""``bear-train inspect``: what a chips folder holds, and what could not be dated."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from beartrain.data.config import DataConfig
from beartrain.data.index import index_folder
from beartrain.data.scan import TIME_SOURCES

#: Encounter-size buckets for the printed distribution: (low, high) chips, inclusive.
SIZE_BUCKETS = ((1, 1), (2, 2), (3, 5), (6, 10), (11, 20), (21, 50), (51, None))


@dataclass(frozen=True)
class IndividualCounts:
    """Chips and encounters of one individual."""

    name: str
    chips: int
    encounters: int


@dataclass(frozen=True)
class InspectReport:
    """Counts of a chips folder, and the chips whose capture time is doubtful or missing."""

    root: Path
    individuals: list[IndividualCounts]  # sorted by name
    chips: int
    encounters: int
    cameras: list[str]  # named cameras ("" not counted)
    encounter_sizes: dict[int, int]  # chips per encounter -> how many encounters
    sources: dict[str, int]  # time source -> chips, every source listed
    mtime_only: list[str]  # chips dated only by file modification time
    undated: list[str]  # chips nothing could date
    skipped: list[str]  # files that are not chips

    def bucketed_sizes(self) -> list[tuple[str, int]]:
        """The encounter-size distribution in `SIZE_BUCKETS`: (label, encounters)."""
        out = []
        for low, high in SIZE_BUCKETS:
            label = str(low) if low == high else f"{low}-{high}" if high else f"{low}+"
            count = sum(
                n for size, n in self.encounter_sizes.items() if low <= size <= (high or size)
            )
            out.append((label, count))
        return out


def inspect_folder(cfg: DataConfig, root: Path | None = None) -> InspectReport:
    """Index `root` (default ``cfg.root``) and count what it holds."""
    index = index_folder(cfg, root)
    per_chips = Counter(r.individual for r in index.rows)
    per_encounters = Counter(i for i, _ in {(r.individual, r.encounter) for r in index.rows})
    sizes = Counter(Counter(r.encounter for r in index.rows).values())
    sources = Counter(c.source for c in index.chips)
    return InspectReport(
        root=index.scan.root,
        individuals=[
            IndividualCounts(name, per_chips[name], per_encounters[name])
            for name in sorted(per_chips)
        ],
        chips=len(index.rows),
        encounters=sum(sizes.values()),
        cameras=sorted({r.camera for r in index.rows if r.camera}),
        encounter_sizes=dict(sorted(sizes.items())),
        sources={source: sources[source] for source in TIME_SOURCES},
        mtime_only=[c.path for c in index.chips if c.source == "mtime"],
        undated=[c.path for c in index.chips if c.source == "none"],
        skipped=index.scan.skipped,
    )


def format_report(report: InspectReport, limit: int = 10) -> str:
    """The report as text; lists of chips are cut to `limit` entries."""
    width = max([len("individual"), *(len(i.name) for i in report.individuals)])
    lines = [
        f"chips folder {report.root}",
        f"{report.chips} chips of {len(report.individuals)} individuals in "
        f"{report.encounters} encounters, {len(report.cameras)} named cameras",
        "",
        f"{'individual':<{width}}  {'chips':>6}  {'encounters':>10}",
        *(f"{i.name:<{width}}  {i.chips:>6}  {i.encounters:>10}" for i in report.individuals),
        f"{'total':<{width}}  {report.chips:>6}  {report.encounters:>10}",
        "",
        _size_line(report),
        "encounters by size (chips): "
        + ", ".join(f"{label}: {n}" for label, n in report.bucketed_sizes()),
        f"individuals with a single encounter: "
        f"{sum(1 for i in report.individuals if i.encounters == 1)}",
        "",
        "capture time from: " + ", ".join(f"{s} {n}" for s, n in report.sources.items()),
    ]
    lines += _listing("dated only by file modification time", report.mtime_only, limit)
    if report.mtime_only:
        lines.append("  (these times do not group encounters: copying files resets them)")
    lines += _listing("could not be dated", report.undated, limit)
    lines += _listing("skipped (not chips)", report.skipped, limit)
    return "\n".join(lines)


def _size_line(report: InspectReport) -> str:
    sizes = [size for size, n in report.encounter_sizes.items() for _ in range(n)]
    return (
        f"chips per encounter: min {min(sizes)}, median {statistics.median(sizes):g}, "
        f"mean {statistics.fmean(sizes):.1f}, max {max(sizes)}"
    )


def _listing(title: str, paths: list[str], limit: int) -> list[str]:
    lines = [f"{title}: {len(paths)}"]
    lines += [f"  {p}" for p in paths[:limit]]
    if len(paths) > limit:
        lines.append(f"  ... and {len(paths) - limit} more")
    return lines
