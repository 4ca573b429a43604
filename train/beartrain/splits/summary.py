"""The summary stored in split.json: what each subset holds."""

from __future__ import annotations

from typing import Any

from beartrain.data.splitfile import SUBSETS, SplitRow


def subset_summary(rows: list[SplitRow]) -> dict[str, int]:
    """Counts of chips, encounters and individuals in one subset, known and unknown."""
    known = [r for r in rows if r.known]
    unknown = [r for r in rows if not r.known]
    return {
        "chips": len(rows),
        "encounters": len({r.encounter for r in rows}),
        "individuals": len({r.individual for r in rows}),
        "known_chips": len(known),
        "unknown_chips": len(unknown),
        "known_individuals": len({r.individual for r in known}),
        "unknown_individuals": len({r.individual for r in unknown}),
    }


def split_summary(subsets: dict[str, list[SplitRow]]) -> dict[str, Any]:
    """Per-subset counts and totals."""
    everything = [r for name in SUBSETS for r in subsets[name]]
    return {
        "totals": {
            "chips": len(everything),
            "encounters": len({r.encounter for r in everything}),
            "individuals": len({r.individual for r in everything}),
        },
        "subsets": {name: subset_summary(subsets[name]) for name in SUBSETS},
    }


def format_summary(summary: dict[str, Any]) -> str:
    """A small table of the per-subset counts, for the terminal."""
    header = f"{'subset':<7}{'chips':>8}{'encounters':>12}{'individuals':>13}{'known':>8}"
    lines = [header + f"{'unknown':>9}"]
    for name in SUBSETS:
        s = summary["subsets"][name]
        lines.append(
            f"{name:<7}{s['chips']:>8}{s['encounters']:>12}{s['individuals']:>13}"
            f"{s['known_chips']:>8}{s['unknown_chips']:>9}"
        )
    return "\n".join(lines)
