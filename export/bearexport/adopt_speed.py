"""How fast an adopted model embeds on this machine, measured through the agent's runtime
and kept beside the model (`SPEED_FILE`)."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np

from bearagent.runtime import Embedder
from bearexport.adopt_batch import BatchCheck
from bearexport.verify import images_per_second

#: The speed record written beside an adopted model.
SPEED_FILE = "speed.json"
#: Batch sizes timed.
BATCHES = (1, 8)


@dataclass(frozen=True)
class Speed:
    """Milliseconds per chip at each batch size, on one runtime with `threads` threads."""

    runtime: str
    threads: int
    ms_per_chip: dict[int, float]
    one_chip_per_call: bool  # the graph runs only at batch 1: a batch is that many calls

    def lines(self) -> list[str]:
        """One line per batch size."""
        threads = f"{self.threads} threads" if self.threads else "ONNX Runtime's threads"
        calls = " (one chip per call)" if self.one_chip_per_call else ""
        return [
            f"batch {b}: {ms:.2f} ms/chip ({1000 / ms:.1f} chips/s) on {self.runtime}, "
            f"{threads}{calls}"
            for b, ms in self.ms_per_chip.items()
        ]


def measure_speed(
    embedder: Embedder, chips: np.ndarray, batch: BatchCheck, seconds: float, threads: int
) -> Speed:
    """Time `embedder` at each of `BATCHES` for about `seconds` each."""
    ms = {b: 1000.0 / images_per_second(embedder, chips, b, seconds) for b in BATCHES}
    return Speed(embedder.name, threads, ms, batch.max_batch == 1)


def write_speed(path: Path, speed: Speed, batch: BatchCheck) -> None:
    """The figures, the batch finding and the machine they were measured on, as JSON."""
    try:
        ort_version = metadata.version("onnxruntime")
    except metadata.PackageNotFoundError:
        ort_version = "unknown"
    record = {
        "runtime": speed.runtime,
        "onnxruntime": ort_version,
        "threads": speed.threads,
        "ms_per_chip": {str(b): round(ms, 3) for b, ms in speed.ms_per_chip.items()},
        "one_chip_per_call": speed.one_chip_per_call,
        "batch": {"declared": batch.declared, "max_batch": batch.max_batch, "note": batch.note},
        "machine": {
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "system": platform.platform(),
        },
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
