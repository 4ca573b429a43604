"""Agent memory and start-up: peak RSS of `bearagent run` with the lite0 model and a
gallery of 10^5 references while it works through a burst (target: at most 400 MB),
and the time from launching the process to its first processed chip.

    .venv/bin/python bench/bench_agent_memory.py [--references 100000] [--chips 1000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from agent_bench_kit import (
    chip_files,
    lite0_model,
    make_gallery,
    outbox_size,
    peak_rss_mb,
    recorded,
    running_agent,
    write_files,
)

TARGET_MB = 400.0


def log_has(log: Path, text: bytes) -> bool:
    """Whether the agent's log contains `text` yet."""
    return text in log.read_bytes()


def main() -> None:
    """Build the gallery, start the agent on a one-chip backlog, then a burst; print figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--references", type=int, default=100_000, help="gallery references")
    parser.add_argument("--chips", type=int, default=1000, help="chips in the burst")
    parser.add_argument("--size", type=int, default=224, help="model input side")
    args = parser.parse_args()
    model = lite0_model(args.size)
    first, *burst = chip_files(args.chips + 1, seed=3)
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        base = Path(tmp)
        database, root, staging = base / "state" / "agent.db", base / "traps", base / "staging"
        start = time.perf_counter()
        make_gallery(database, model, args.references)
        print(
            f"gallery of {args.references} references built in {time.perf_counter() - start:.0f} s"
        )
        write_files(root, [first])  # the backlog found at start
        os.utime(root / first[0], (time.time() - 60, time.time() - 60))
        write_files(staging, burst)
        with running_agent(base, model=model, database=database, root=root) as agent:
            log, pid = agent.log, agent.process.pid
            watching = None
            while recorded(database) < 1:
                if watching is None and log_has(log, b"watching"):
                    watching = time.monotonic() - agent.launched
                if agent.process.poll() is not None:
                    raise SystemExit(log.read_text()[-3000:])
                time.sleep(0.01)
            first_chip = time.monotonic() - agent.launched
            after_start = peak_rss_mb(pid)
            os.rename(staging / "site", root / "site2")
            while recorded(database) < args.chips + 1 or outbox_size(database) > 0:
                time.sleep(0.05)
            peak = peak_rss_mb(pid)
        # Full loads of the gallery index (each briefly holds a second copy of the matrix).
        reloads = log.read_bytes().count(b"gallery loaded")
    print(f"lite0 {args.size}x{args.size}, {args.references} references, {args.chips} chips")
    if watching is not None:
        print(f"start-up: ready (watching) after {watching:.2f} s")
    print(f"start-up: first chip processed {first_chip:.2f} s after launch")
    print(f"peak RSS after start-up: {after_start:.0f} MB; after the burst: {peak:.0f} MB")
    print(f"full gallery index loads during the run: {reloads}")
    verdict = "met" if peak <= TARGET_MB else "NOT met"
    print(f"target peak RSS <= {TARGET_MB:.0f} MB: {verdict}")


if __name__ == "__main__":
    main()
