"""Shared pieces of the agent benchmarks: a realistic model, a gallery, chips, and (from
the development harness `bearid_dev`) a broker, the agent as a subprocess, and the
subscriber, which stamps every message with its arrival time.

The model is the tf_efficientnet_lite0 embedder (frozen ImageNet backbone, linear
256-d head) exported by bearexport exactly as `bench_export.py` does it, cached in
``/tmp/bearid-bench-lite0-<size>`` so the three benchmarks export it once.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# The development harness is not installed: the benches find it beside them.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "dev"))

from bearagent import gallery
from bearagent.modelcard import load_model_card
from bearagent.store import transaction
from bearid_dev.agent import start_agent, stop_agent, wait_for_log
from bearid_dev.mosquitto import Mosquitto, running_broker
from bearid_dev.subscriber import Message, Subscriber
from beartrain.synthetic import SyntheticConfig, encode_jpeg, iter_population

__all__ = [
    "THREADS",
    "Message",
    "Mosquitto",
    "RunningAgent",
    "Subscriber",
    "chip_files",
    "event",
    "lite0_model",
    "make_gallery",
    "model_sha",
    "outbox_size",
    "peak_rss_mb",
    "percentiles",
    "recorded",
    "running_agent",
    "start_agent",
    "stop_agent",
    "wait_for_log",
    "write_agent_config",
    "write_files",
]

THREADS = 2


def lite0_model(size: int = 224) -> Path:
    """The exported lite0 embedder (built and cached on first use)."""
    folder = Path(tempfile.gettempdir()) / f"bearid-bench-lite0-{size}"
    model = folder / "model" / "embedder.onnx"
    if model.exists():
        return model
    from bearexport.card import ManualRule
    from bearexport.pipeline import ExportOptions, export_checkpoint
    from bench_export import make_run  # torch: only when the model must be built

    shutil.rmtree(folder, ignore_errors=True)
    run = make_run(folder / "run", size)
    # One threshold (known = unknown, no review band), as bear-export --threshold 0.5.
    export_checkpoint(run, folder / "model", ExportOptions(manual=ManualRule(threshold=0.5)))
    return model


def model_sha(model: Path) -> str:
    """The model's sha256 as its card records it (what the gallery must be made with)."""
    sha = load_model_card(model).model.sha256
    if sha is None:
        raise ValueError(f"{model}: its card has no sha256")
    return sha


def make_gallery(database: Path, model: Path, references: int, per_individual: int = 10) -> None:
    """A gallery of random unit references made 'with' `model` (search cost is what counts)."""
    sha = model_sha(model)
    dim = load_model_card(model).embedding.size
    rng = np.random.default_rng(0)
    db = gallery.open_gallery(database)
    with transaction(db):
        for first in range(0, references, per_individual):
            rows = rng.standard_normal((min(per_individual, references - first), dim))
            rows = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
            bear = gallery.create_known(db, f"bear {first // per_individual}")
            gallery.add_references(
                db, bear, rows, sha, [f"/{bear}/{i}.jpg" for i in range(len(rows))]
            )
    db.conn.close()


def chip_files(count: int, cameras: int = 4, seed: int = 0) -> list[tuple[str, bytes]]:
    """`count` distinct synthetic chips in camera-trap conditions: (relative path, JPEG)."""
    cfg = SyntheticConfig(individuals=count // 8 + 4, cameras=cameras, seed=seed)
    out: list[tuple[str, bytes]] = []
    for i, (record, chip) in enumerate(iter_population(cfg)):
        if i == count:
            break
        out.append(
            (f"site/cam{i % cameras:02d}/{i:06d}.jpg", encode_jpeg(chip, record.captured_at))
        )
    if len(out) < count:
        raise ValueError(f"the synthetic population gave only {len(out)} chips")
    return out


def write_files(root: Path, files: list[tuple[str, bytes]]) -> None:
    """Write chips the way copy tools do: a dot-named temporary file, renamed into place."""
    for relative, data in files:
        final = root / relative
        final.parent.mkdir(parents=True, exist_ok=True)
        temp = final.with_name(f".{final.name}.part")
        temp.write_bytes(data)
        os.rename(temp, final)


def event(message: Message) -> dict[str, object]:
    """The JSON event of a message; {} for the plain-text status."""
    if message.channel == "status":
        return {}
    doc = message.json()
    return doc if isinstance(doc, dict) else {}


def write_agent_config(
    path: Path, *, model: Path, database: Path, root: Path, port: int | None, **extra: str
) -> Path:
    """A TOML config for the agent under test (`extra`: more 'key = value' lines by section)."""
    mqtt_lines = f'host = "127.0.0.1"\nport = {port}\nstats_interval_s = 0\n' if port else ""
    publisher = "mqtt" if port else "stdout"
    text = f"""[agent]
id = "bench"
database = "{database}"
timezone = "UTC"
publisher = "{publisher}"
{extra.get("agent", "")}
[watch]
roots = ["{root}"]
stable_after_s = 0.5
{extra.get("watch", "")}
[runtime]
model = "{model}"
providers = ["CPUExecutionProvider"]
intra_op_threads = {THREADS}
{extra.get("runtime", "")}
[pipeline]
{extra.get("pipeline", "")}
[encounter]
{extra.get("encounter", "")}
[mqtt]
{mqtt_lines}"""
    path.write_text(text, encoding="utf-8")
    return path


@dataclass(frozen=True)
class RunningAgent:
    """The agent under test, the subscriber on its broker, and its log."""

    process: subprocess.Popen[bytes]
    subscriber: Subscriber  # on bearid/bench/+, every message stamped with its arrival
    log: Path
    launched: float  # time.monotonic() just before the agent was started


@contextmanager
def running_agent(
    base: Path, *, model: Path, database: Path, root: Path, **extra: str
) -> Iterator[RunningAgent]:
    """A broker, a subscriber on it, and the agent (config in `base`); all stopped on exit."""
    with running_broker(base / "broker", verbose=False) as broker:
        subscriber = Subscriber(broker, "bearid/bench/+").connect()
        config = write_agent_config(
            base / "agent.toml",
            model=model,
            database=database,
            root=root,
            port=broker.port,
            **extra,
        )
        log = base / "agent.log"
        launched = time.monotonic()
        process = start_agent(config, log)
        try:
            yield RunningAgent(process, subscriber, log, launched)
        finally:
            stop_agent(process)
            subscriber.close()


def peak_rss_mb(pid: int) -> float:
    """Peak resident set size (VmHWM) of a live process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for {pid}")


def recorded(database: Path) -> int:
    """Files in the agent's ledger (0 before it exists)."""
    if not database.exists():
        return 0
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM files").fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # the ledger table is not there yet
    finally:
        conn.close()


def outbox_size(database: Path) -> int:
    """Events not yet acknowledged by the broker."""
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    try:
        return int(
            conn.execute("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL").fetchone()[0]
        )
    finally:
        conn.close()


def percentiles(values: list[float]) -> str:
    """'p50 .. p95 .. p99 ..' of `values` (ms)."""
    p50, p95, p99 = np.percentile(np.asarray(values), [50, 95, 99])
    return f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms (n={len(values)})"
