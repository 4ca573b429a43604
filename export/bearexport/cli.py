"""``bear-export``: turn a trained embedder into ONNX (and TensorRT) with its model card.

The export commands arrive with the exporter (see the README's roadmap).
"""

from __future__ import annotations

import click

from bearagent.clikit import ErrorReportingGroup, version_option


@click.group(cls=ErrorReportingGroup)
@version_option()
def main() -> None:
    """Export a bear-train checkpoint to ONNX / TensorRT with a model card."""
