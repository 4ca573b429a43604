"""What the reorder window costs: agent latency p50/p95 idle and under load, and
throughput, with the window off (the agent before it) and at the given lengths.

    .venv/bin/python bench/bench_reorder.py [--windows 0,1] [--probes 20] [--chips 600]

Latency is from a chip's rename into place to its first event at an MQTT
subscriber (bench_agent_latency); throughput is a burst of chips moved in at once,
until every one is recorded and published (bench_agent_throughput). On a shared
machine, compare the rows of one run, not runs of different days.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from agent_bench_kit import THREADS, chip_files, lite0_model
from bench_agent_latency import latencies
from bench_agent_throughput import agent_throughput


def main() -> None:
    """Print one row per window length."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--windows", default="0,1", help="reorder windows in seconds")
    parser.add_argument("--probes", type=int, default=20, help="probe chips per condition")
    parser.add_argument("--load-rate", type=float, default=40.0, help="load chips per second")
    parser.add_argument("--chips", type=int, default=600, help="chips in the load and the burst")
    parser.add_argument("--size", type=int, default=224, help="model input side")
    args = parser.parse_args()
    model = lite0_model(args.size)
    probes = [data for _, data in chip_files(2 * args.probes, seed=1)]
    load = chip_files(args.chips, seed=2)
    print(
        f"lite0 {args.size}x{args.size}, {THREADS} intra-op threads, {os.cpu_count()} CPUs; "
        f"{args.probes} probes idle and under a {args.load_rate:g} chips/s stream; "
        f"burst of {args.chips} chips, batch 8, 1000 references"
    )
    print("window s | idle p50 / p95 ms | load p50 / p95 ms | throughput chips/s")
    for window in (float(w) for w in args.windows.split(",")):
        idle, busy = latencies(
            model,
            probes,
            load,
            load_rate=args.load_rate,
            batch_wait_ms=10.0,
            reorder_window_s=window,
        )
        rate, _, _ = agent_throughput(model, load, 8, 1000, window)
        print(
            f"{window:8g} | {np.median(idle):7.0f} / {np.percentile(idle, 95):5.0f} | "
            f"{np.median(busy):7.0f} / {np.percentile(busy, 95):5.0f} | {rate:8.1f}"
        )


if __name__ == "__main__":
    main()
