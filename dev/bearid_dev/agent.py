"""Starting and stopping the agent under test: a TOML config, ``bearagent run`` as a
subprocess (which a test can SIGKILL), or the `Agent` in this process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bearagent.app import Agent
from bearagent.config import AgentConfig

#: The ``bearagent`` console script of the running interpreter's environment.
BEARAGENT = str(Path(sys.executable).parent / "bearagent")

Settings = Mapping[str, Mapping[str, object]]


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def write_config(path: Path, settings: Settings) -> Path:
    """Write `settings` ({section: {key: value}}, one nested table deep) as a TOML file."""
    lines: list[str] = []
    for section, values in settings.items():
        nested = {k: v for k, v in values.items() if isinstance(v, Mapping)}
        lines.append(f"[{section}]")
        lines += [f"{k} = {_toml(v)}" for k, v in values.items() if k not in nested]
        for name, table in nested.items():
            lines.append(f"[{section}.{name}]")
            lines += [f"{k} = {_toml(v)}" for k, v in table.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def start_agent(
    config: Path, log: Path, prefix: Sequence[str] = (), **popen: Any
) -> subprocess.Popen[bytes]:
    """``bearagent run --config CONFIG`` (after `prefix`, e.g. setpriv), stderr appended
    to `log`."""
    with log.open("ab") as err:
        return subprocess.Popen(
            [*prefix, BEARAGENT, "run", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=err,
            **popen,
        )


def wait_for_log(log: Path, text: bytes, timeout: float = 120.0) -> None:
    """Wait until `log` holds `text` (``b"watching"``: the agent has started)."""
    deadline = time.monotonic() + timeout
    while not (log.exists() and text in log.read_bytes()):
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
            raise TimeoutError(f"{text!r} never appeared in {log} in {timeout} s:\n{tail}")
        time.sleep(0.02)


def stop_agent(process: subprocess.Popen[bytes], timeout: float = 60.0) -> int:
    """SIGTERM (finish the batch, flush, say offline) and wait; SIGKILL if it hangs.

    Returns the exit status (0 after a clean stop).
    """
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    return int(process.returncode)


@contextmanager
def agent_process(config: Path, log: Path, **popen: Any) -> Iterator[subprocess.Popen[bytes]]:
    """The agent as a subprocess for the duration of the block (stopped with SIGTERM)."""
    process = start_agent(config, log, **popen)
    try:
        yield process
    finally:
        stop_agent(process)


@contextmanager
def agent_in_process(settings: Settings | AgentConfig) -> Iterator[Agent]:
    """A started `Agent` in this process (every thread stopped on exit)."""
    cfg = settings if isinstance(settings, AgentConfig) else AgentConfig.model_validate(settings)
    agent = Agent(cfg)
    agent.start()
    try:
        yield agent
    finally:
        agent.stop()
