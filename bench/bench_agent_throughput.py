"""Agent throughput against the bare model: chips/s through the whole agent (watch ->
ledger -> decode -> embed -> match -> SQLite -> MQTT acknowledged) divided by the
chips/s of ONNX Runtime alone running the same lite0 model on the same decoded chips,
with the same threads and batch size. Target: a ratio of at least 0.90.

    .venv/bin/python bench/bench_agent_throughput.py [--chips 10000] [--batch 8]

The chips (synthetic, camera-trap conditions) are written beside the watch root and
moved in with one rename, so the clock measures the agent, not the writer.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import onnxruntime as ort

from agent_bench_kit import (
    THREADS,
    chip_files,
    lite0_model,
    make_gallery,
    outbox_size,
    peak_rss_mb,
    recorded,
    running_agent,
    wait_for_log,
    write_files,
)
from bearagent.chips import decode_chip, preprocess_batch
from bearagent.modelcard import load_model_card

TARGET = 0.90


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bare_throughput(
    model: Path, files: list[tuple[str, bytes]], batch: int
) -> tuple[float, float, float]:
    """(model-only chips/s, decode+preprocess chips/s, model CPU ms per chip) on one
    session like the agent's."""
    spec = load_model_card(model).input
    start = time.perf_counter()
    images = [decode_chip(data) for _, data in files]
    inputs = [preprocess_batch(images[i : i + batch], spec) for i in range(0, len(images), batch)]
    prep = len(files) / (time.perf_counter() - start)
    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    session.run(None, {name: inputs[0]})  # warm-up, as the agent does at start
    start, cpu = time.perf_counter(), time.process_time()
    for x in inputs:
        session.run(None, {name: x})
    cpu_ms = (time.process_time() - cpu) * 1000 / len(files)
    return len(files) / (time.perf_counter() - start), prep, cpu_ms


def agent_throughput(
    model: Path,
    files: list[tuple[str, bytes]],
    batch: int,
    references: int,
    reorder_window_s: float = 1.0,
) -> tuple[float, float, float]:
    """(chips/s through the agent, its peak RSS in MB, its CPU ms per chip)."""
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as tmp:
        base = Path(tmp)
        database, root, staging = base / "state" / "agent.db", base / "traps", base / "staging"
        root.mkdir()
        make_gallery(database, model, references)
        write_files(staging, files)
        pipeline = f"batch_size = {batch}\nreorder_window_s = {reorder_window_s}"
        with running_agent(
            base, model=model, database=database, root=root, pipeline=pipeline
        ) as agent:
            pid = agent.process.pid
            wait_for_log(agent.log, b"watching")
            start, cpu = time.monotonic(), cpu_seconds(pid)
            os.rename(staging / "site", root / "site")
            while recorded(database) < len(files) or outbox_size(database) > 0:
                time.sleep(0.02)
            elapsed = time.monotonic() - start
            cpu_ms = (cpu_seconds(pid) - cpu) * 1000 / len(files)
            peak = peak_rss_mb(pid)
    return len(files) / elapsed, peak, cpu_ms


def main() -> None:
    """Measure and print both throughputs and their ratio."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--chips", type=int, default=1000, help="chips in the burst")
    parser.add_argument("--batch", type=int, default=8, help="pipeline.batch_size and bare batch")
    parser.add_argument("--size", type=int, default=224, help="model input side")
    parser.add_argument("--references", type=int, default=1000, help="gallery references")
    parser.add_argument(
        "--reorder-window-s", type=float, default=1.0, help="pipeline.reorder_window_s"
    )
    args = parser.parse_args()
    model = lite0_model(args.size)
    files = chip_files(args.chips)
    print(
        f"lite0 {args.size}x{args.size}, {args.chips} chips, batch {args.batch}, "
        f"{THREADS} intra-op threads, {args.references} references, {os.cpu_count()} CPUs"
    )
    # Bare before and after the agent: the machine is shared, so its speed drifts.
    before, prep, bare_cpu = bare_throughput(model, files, args.batch)
    agent, peak, agent_cpu = agent_throughput(
        model, files, args.batch, args.references, args.reorder_window_s
    )
    after, _, _ = bare_throughput(model, files, args.batch)
    bare = (before + after) / 2
    print(
        f"bare ONNX Runtime: {bare:.1f} chips/s (before {before:.1f}, after {after:.1f}; "
        f"decode+preprocess alone: {prep:.0f} chips/s)"
    )
    ratio = agent / bare
    verdict = "met" if ratio >= TARGET else "NOT met"
    print(f"agent end to end: {agent:.1f} chips/s, peak RSS {peak:.0f} MB")
    print(f"ratio {ratio:.3f} (target >= {TARGET:.2f}: {verdict})")
    # CPU time is not stolen by other programs on a shared machine: the steadier figure.
    print(
        f"CPU per chip: bare model {bare_cpu:.1f} ms, whole agent {agent_cpu:.1f} ms; "
        f"CPU-time ratio {bare_cpu / agent_cpu:.3f}"
    )


if __name__ == "__main__":
    main()
