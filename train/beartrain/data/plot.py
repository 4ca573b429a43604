"""The per-individual distribution plot of ``bear-train inspect`` (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path

from beartrain.data.inspect import InspectReport


def plot_distribution(report: InspectReport, path: Path) -> Path:
    """Save a bar chart of chips and encounters per individual (most chips first) to `path`."""
    import matplotlib

    matplotlib.use("Agg")  # no display on a workstation over SSH
    from matplotlib import pyplot as plt

    ranked = sorted(report.individuals, key=lambda i: (-i.chips, i.name))
    x = range(len(ranked))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.16 * len(ranked) + 2), 4.5))
    try:
        ax.bar(x, [i.chips for i in ranked], color="#8c6d46", label="chips")
        ax.bar(x, [i.encounters for i in ranked], color="#2f4b3a", width=0.5, label="encounters")
        ax.set_xticks(list(x), [i.name for i in ranked], rotation=90, fontsize=6)
        ax.set_xlabel("individual")
        ax.set_ylabel("count")
        ax.set_title(
            f"{report.root.name}: {report.chips} chips, {len(ranked)} individuals, "
            f"{report.encounters} encounters"
        )
        ax.legend()
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)
    return path
