"""``bear-train inspect``: what a chips folder holds, and what could not be dated."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from beartrain.data.config import DataConfig
from beartrain.data.encounters import FORMED_BY
from beartrain.data.index import ChipIndex, index_folder
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
    formed: dict[str, tuple[int, int]] = field(default_factory=dict)  # how -> encounters, chips
    content_only: list[str] = field(default_factory=list)  # chips grouped by content alone

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
        formed=_formed(index),
        content_only=_content_only(index, cfg),
    )


def _formed(index: ChipIndex) -> dict[str, tuple[int, int]]:
    """How encounters were formed: label ('clip+content', ...) -> (encounters, chips)."""
    chips = Counter(r.encounter for r in index.rows)
    out: Counter[str] = Counter()
    members: Counter[str] = Counter()
    for encounter, hows in index.formed.items():
        label = "+".join(h for h in FORMED_BY if h in hows)
        out[label] += 1
        members[label] += chips[encounter]
    return {label: (out[label], members[label]) for label in sorted(out)}


def _content_only(index: ChipIndex, cfg: DataConfig) -> list[str]:
    """Undated chips whose encounter holds them only through near-duplicate content."""
    return [
        c.path
        for c, r in zip(index.chips, index.rows, strict=True)
        if not c.dated(cfg.mtime_encounters)
        and "content" in index.formed[r.encounter]
        and not c.clip
        and not c.stem
        and not (c.counter and cfg.counter_series)
    ]


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
    no_time = len(report.mtime_only) + len(report.undated)
    if no_time:
        lines.append(
            f"warning: {no_time} chips ({no_time / report.chips:.0%}) have no reliable capture "
            "time: their encounters come from their names (clips, source-photo stems, numbered "
            "series) and near-duplicate content only"
        )
    lines += _listing("could not be dated", report.undated, limit)
    lines += _formed_lines(report)
    lines += _listing("grouped by content alone (near-duplicates)", report.content_only, limit)
    if report.content_only:
        share = len(report.content_only) / report.chips
        lines.append(
            f"warning: {share:.1%} of the chips have no capture time and share an encounter "
            "only because their content nearly duplicates another chip's; check a few, or give "
            "a metadata table with capture times or encounter ids (--metadata)"
        )
    lines += _listing("skipped (not chips)", report.skipped, limit)
    return "\n".join(lines)


def _formed_lines(report: InspectReport) -> list[str]:
    """How the encounters were formed (see beartrain.data.encounters)."""
    if not report.formed:
        return []
    lines = ["encounters formed by (encounters, chips):"]
    lines += [f"  {label}: {e}, {c}" for label, (e, c) in report.formed.items()]
    single = report.formed.get("single", (0, 0))[0]
    if single and single / max(report.encounters, 1) > 0.2:
        lines.append(
            f"warning: {single} encounters are a single undated chip that nothing groups: "
            "bursts among them may sit on two sides of a split; give capture times or "
            "encounter ids in a metadata table (--metadata)"
        )
    return lines


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
