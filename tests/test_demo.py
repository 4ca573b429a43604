"""The demo, shortened: every step runs, every encounter ends, nothing is left running."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from bearid_dev.demo.options import DemoOptions
from bearid_dev.demo.run import run_demo


def mosquitto_processes_of(folder: Path) -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = (Path("/proc") / pid / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "mosquitto" in cmdline and str(folder) in cmdline:
            found.append(cmdline)
    return found


def test_demo_runs_end_to_end_and_cleans_up(tmp_path: Path) -> None:
    lines: list[str] = []
    threads_before = threading.active_count()
    summary = run_demo(
        DemoOptions(
            workdir=tmp_path / "demo",
            individuals=4,
            strangers=1,
            epochs=1,
            input_size=64,
            pause_s=0.3,
            end_after_s=1.0,
        ),
        say=lines.append,
    )
    assert (summary.known_total, summary.unknown_total) == (4, 2)
    assert summary.missing == 0  # every encounter's `end` reached the subscriber
    assert any(line.startswith("  mqtt sighting new") for line in lines)
    assert any("parity fp32" in line and line.endswith("ok") for line in lines)
    assert lines[-1].startswith("done in ")
    assert mosquitto_processes_of(tmp_path) == []
    assert threading.active_count() <= threads_before + 1  # agent, watcher and MQTT threads gone
    assert (tmp_path / "demo" / "model" / "embedder.onnx.json").is_file()
