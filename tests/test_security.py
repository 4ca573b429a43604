"""Security of the whole agent: TLS with a password against a real Mosquitto set up that
way, credentials never sent over plain TCP unless explicitly allowed, and topics that
camera or file names cannot change."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from bearagent.app import Agent
from bearagent.config import AgentConfig
from bearagent.mqtt.config import plaintext_refused
from bearagent.wire.topics import Topics
from beartrain.synthetic import encode_jpeg
from support.agent_checks import BEARAGENT, agent_settings, write_config
from support.agent_world import World, drop, make_world
from support.broker import Credentials, Mosquitto
from support.subscriber import Message, Subscriber

PASSWORD = "s3cret-test-password"


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def password_file(tmp_path: Path, password: str = PASSWORD) -> Path:
    path = tmp_path / "mqtt-password"
    path.write_text(password + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def run_one_encounter(agent_cfg: AgentConfig, world: World, sub: Subscriber) -> list[Message]:
    """Start the agent, drop a known bear's encounter, return the messages up to its end."""
    agent = Agent(agent_cfg)
    agent.start()
    try:
        who, chips = next(iter(world.unseen.items()))
        drop(world, "cam01", chips)
        got: list[Message] = []
        while not any(m.topic.endswith("/sighting") and m.json()["type"] == "end" for m in got):
            got.append(sub.get(20))
    finally:
        agent.stop()
    names = {m.json()["decision"]["name"] for m in got if m.topic.endswith("/sighting")}
    assert names == {who}
    return got


def test_the_agent_publishes_over_tls_with_a_password(
    world: World, tls_broker: Mosquitto, subscribe: Callable[..., Subscriber], tmp_path: Path
) -> None:
    assert tls_broker.tls is not None
    mqtt = {
        "host": tls_broker.host,
        "port": tls_broker.port,
        "stats_interval_s": 0,
        "username": "bearagent",
        "password_file": str(password_file(tmp_path)),
        "tls": {"enabled": True, "ca_file": str(tls_broker.tls.ca_cert)},
    }
    sub = subscribe(tls_broker, "bearid/box1/#")
    got = run_one_encounter(
        AgentConfig.model_validate(agent_settings(world, mqtt=mqtt)), world, sub
    )
    assert {m.topic for m in got} >= {"bearid/box1/status", "bearid/box1/sighting"}
    # The broker saw a TLS client that authenticated as the agent's user.
    assert "u'bearagent'" in tls_broker.log()  # mosquitto logs the user a client logged in as


def test_credentials_over_plain_tcp_are_refused_with_a_clear_message(
    world: World, tmp_path: Path
) -> None:
    mqtt = {"host": "broker.example", "port": 1883, "username": "bearagent"}
    mqtt["password_file"] = str(password_file(tmp_path))
    with pytest.raises(ValueError, match="over plain TCP") as info:
        AgentConfig.model_validate(agent_settings(world, mqtt=mqtt))
    assert plaintext_refused("broker.example", 1883) in str(info.value)
    config = write_config(tmp_path / "agent.toml", agent_settings(world, mqtt=mqtt))
    done = subprocess.run([BEARAGENT, "run", "--config", str(config)], capture_output=True)
    assert done.returncode != 0
    assert (
        "refusing to send the MQTT username and password to broker.example:1883 over plain "
        "TCP, where anyone on the network can read them: set mqtt.tls.enabled = true, or "
        "mqtt.allow_plaintext_credentials = true if this network is trusted"
    ) in done.stderr.decode()


def test_plain_tcp_credentials_work_when_explicitly_allowed(
    world: World,
    mosquitto_binary: str,
    subscribe: Callable[..., Subscriber],
    tmp_path: Path,
) -> None:
    broker = Mosquitto(
        mosquitto_binary, tmp_path / "plain", credentials=Credentials("bearagent", PASSWORD)
    )
    broker.start()
    try:
        mqtt = {
            "host": broker.host,
            "port": broker.port,
            "stats_interval_s": 0,
            "username": "bearagent",
            "password_file": str(password_file(tmp_path)),
            "allow_plaintext_credentials": True,
        }
        sub = subscribe(broker, "bearid/box1/#")
        cfg = AgentConfig.model_validate(agent_settings(world, mqtt=mqtt))
        run_one_encounter(cfg, world, sub)
    finally:
        broker.stop()


HOSTILE_CAMERA = "cam+#1"
HOSTILE_FILE = "a+b#c\x01d.jpg"


def test_camera_and_file_names_cannot_change_topics(
    world: World, broker: Mosquitto, subscribe: Callable[..., Subscriber], tmp_path: Path
) -> None:
    everything = subscribe(broker, "#")
    mqtt = {"host": broker.host, "port": broker.port, "stats_interval_s": 0}
    agent = Agent(AgentConfig.model_validate(agent_settings(world, mqtt=mqtt)))
    agent.start()
    try:
        who, chips = next(iter(world.unseen.items()))
        folder = world.traps / "north" / HOSTILE_CAMERA
        folder.mkdir(parents=True)
        for i, (record, chip) in enumerate(chips):
            (folder / f"{i}{HOSTILE_FILE}").write_bytes(encode_jpeg(chip, record.captured_at))
        got: list[Message] = []
        while not any(m.topic.endswith("/sighting") and m.json()["type"] == "end" for m in got):
            got.append(everything.get(20))
    finally:
        agent.stop()
    assert {m.topic for m in got} <= set(Topics.build("bearid/{agent_id}/", "box1").all())
    sightings = [m.json() for m in got if m.topic == "bearid/box1/sighting"]
    assert {s["camera"] for s in sightings} == {HOSTILE_CAMERA}  # kept as data
    assert all(s["file"].startswith(f"north/{HOSTILE_CAMERA}/") for s in sightings)
    assert all(s["file"].endswith(HOSTILE_FILE) for s in sightings)
    assert {s["decision"]["name"] for s in sightings} == {who}


@pytest.mark.parametrize("agent_id", ["box+1", "box#", "site/box", "box\x00"])
def test_an_agent_id_that_would_change_topics_is_refused(
    world: World, agent_id: str, tmp_path: Path
) -> None:
    settings = agent_settings(world)
    settings["agent"]["id"] = agent_id
    with pytest.raises(ValueError, match="it becomes an MQTT topic level"):
        AgentConfig.model_validate(settings)
