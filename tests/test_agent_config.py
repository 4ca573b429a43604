"""The agent's configuration: defaults, TOML, overrides, unknown keys, check-config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bearagent.cli.run_commands import build_config
from bearagent.config import AgentConfig, ConfigError, load_config
from bearagent.config.reference import render_reference

BIN = Path(sys.executable).parent
REFERENCE = Path(__file__).resolve().parent.parent / "docs" / "config-reference.md"


def test_defaults_need_no_file() -> None:
    cfg = load_config(AgentConfig, None)
    assert cfg.agent.id == "bearagent" and cfg.mqtt.port == 1883
    assert cfg.agent.database_path == Path("/var/lib/bearagent/bearagent.db")


def test_file_then_flags_then_set(tmp_path: Path) -> None:
    file = tmp_path / "config.toml"
    file.write_text('[agent]\nid = "box7"\n[mqtt]\nport = 1884\n[watch]\nroots = ["/traps"]\n')
    cfg = build_config(
        file,
        ("mqtt.port=8883", 'agent.site="ridge"'),
        watch=(Path("/more"),),
        mqtt_port=1885,
        agent_id="box8",
    )
    assert cfg.agent.id == "box8"  # the flag beats the file
    assert cfg.mqtt.port == 8883  # --set beats the flag
    assert cfg.agent.site == "ridge"
    assert cfg.watch.roots == [Path("/traps"), Path("/more")]


def test_unknown_keys_and_bad_values_are_all_named(tmp_path: Path) -> None:
    file = tmp_path / "config.toml"
    file.write_text('[agent]\nid = "no/slash"\n[mqtt]\nprot = 1\n[wacth]\nroots = []\n')
    with pytest.raises(ConfigError) as e:
        load_config(AgentConfig, file)
    assert [str(p) for p in e.value.problems] == [
        "agent.id = 'no/slash': Value error, must be 1-64 letters, digits, '-', '_' or '.', "
        "starting with a letter or digit (it becomes an MQTT topic level)",
        "mqtt.prot = 1: unknown key (check its spelling and section)",
        "wacth = {...}: unknown key (check its spelling and section)",
    ]


def test_set_needs_key_and_value() -> None:
    with pytest.raises(ConfigError, match=r"expected KEY=VALUE, e.g. mqtt.port=8883"):
        load_config(AgentConfig, None, ["mqtt.port"])


def test_check_config_prints_every_problem(tmp_path: Path) -> None:
    file = tmp_path / "config.toml"
    file.write_text('[mqtt]\nport = "high"\nprot = 1\n')
    result = subprocess.run(
        [str(BIN / "bearagent"), "check-config", str(file)], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{file}: mqtt.port = 'high': Input should be a valid integer, unable to parse string "
        "as an integer",
        f"{file}: mqtt.prot = 1: unknown key (check its spelling and section)",
    ]
    file.write_text('[agent]\nid = "box7"\n')
    ok = subprocess.run(
        [str(BIN / "bearagent"), "check-config", str(file)], capture_output=True, text=True
    )
    assert ok.returncode == 0 and ok.stdout.startswith(f"{file}: ok (agent box7")


def test_a_broken_toml_file_names_the_line(tmp_path: Path) -> None:
    file = tmp_path / "config.toml"
    file.write_text("[agent\nid = 1\n")
    with pytest.raises(ConfigError, match=r"\(file\): not valid TOML: .*line 1"):
        load_config(AgentConfig, file)


def test_run_without_watch_roots_says_what_to_do(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(BIN / "bearagent"), "run", "--state-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: nothing to watch: give --watch DIR or set watch.roots"
    )


def test_the_committed_reference_is_current() -> None:
    """Regenerate with `bearagent config-reference > docs/config-reference.md`."""
    assert (
        REFERENCE.read_text()
        == render_reference(AgentConfig, "bearagent configuration reference") + "\n"
    )


def test_the_example_config_of_the_installer_is_valid() -> None:
    example = REFERENCE.parent.parent / "deploy" / "config.example.toml"
    cfg = load_config(AgentConfig, example)
    assert cfg.watch.roots == [Path("/traps")]
