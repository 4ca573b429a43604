"""The [mqtt] section: defaults, typos, credentials over plain TCP, password files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from bearagent.mqtt import MqttConfig
from bearagent.mqtt.config import plaintext_refused
from bearagent.wire.credentials import read_password
from bearagent.wire.errors import CredentialsError

PLAINTEXT = (
    "refusing to send the MQTT username and password to 127.0.0.1:1883 over plain TCP, "
    "where anyone on the network can read them: set mqtt.tls.enabled = true, or "
    "mqtt.allow_plaintext_credentials = true if this network is trusted"
)


def test_defaults() -> None:
    cfg = MqttConfig()
    assert (cfg.host, cfg.port, cfg.topic_prefix) == ("127.0.0.1", 1883, "bearid/{agent_id}/")
    assert not cfg.tls.enabled and cfg.username is None and not cfg.allow_plaintext_credentials


def test_every_field_has_a_description() -> None:
    schema = MqttConfig.model_json_schema()
    sections = [schema, *schema.get("$defs", {}).values()]
    for section in sections:
        for name, field in section.get("properties", {}).items():
            assert field.get("description"), f"{section.get('title')}.{name} has no description"


def test_a_typo_is_an_error_that_names_the_key() -> None:
    with pytest.raises(
        ValidationError, match=re.escape("keepalive\n  Extra inputs are not permitted")
    ):
        MqttConfig.model_validate({"keepalive": 30})
    with pytest.raises(
        ValidationError, match=re.escape("tls.ca\n  Extra inputs are not permitted")
    ):
        MqttConfig.model_validate({"tls": {"ca": "/etc/ca.pem"}})


def test_credentials_over_plain_tcp_are_refused() -> None:
    assert plaintext_refused("127.0.0.1", 1883) == PLAINTEXT
    with pytest.raises(ValidationError, match=re.escape(PLAINTEXT)):
        MqttConfig(username="bearagent", password_file=Path("/run/pw"))


def test_credentials_over_plain_tcp_when_explicitly_allowed_or_over_tls() -> None:
    MqttConfig(username="u", password_file=Path("/pw"), allow_plaintext_credentials=True)
    MqttConfig(username="u", password_file=Path("/pw"), tls={"enabled": True})


def test_password_file_needs_a_username_and_backoff_must_be_ordered() -> None:
    with pytest.raises(
        ValidationError, match=re.escape("mqtt.password_file is set but mqtt.username")
    ):
        MqttConfig(password_file=Path("/pw"), allow_plaintext_credentials=True)
    with pytest.raises(ValidationError, match=r"reconnect_min_s \(10.0\) is larger"):
        MqttConfig(reconnect_min_s=10, reconnect_max_s=2)


def test_client_certificate_needs_its_key() -> None:
    with pytest.raises(
        ValidationError, match=re.escape("tls.cert_file and tls.key_file go together")
    ):
        MqttConfig.model_validate({"tls": {"enabled": True, "cert_file": "/c.pem"}})


def test_password_from_an_absolute_file(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cret\n", encoding="utf-8")
    assert read_password(tmp_path / "pw", environ={}) == "s3cret"


def test_relative_password_file_is_looked_up_in_the_credentials_directory(
    tmp_path: Path,
) -> None:
    (tmp_path / "mqtt-password").write_text("from systemd", encoding="utf-8")
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    assert read_password(Path("mqtt-password"), environ=env) == "from systemd"


def test_password_file_errors_say_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError) as caught:
        read_password(Path("mqtt-password"), environ={})
    assert str(caught.value) == (
        "mqtt.password_file 'mqtt-password' is a relative name but $CREDENTIALS_DIRECTORY is "
        "not set: give an absolute path, or run under systemd with "
        "LoadCredential=mqtt-password:/path/to/file"
    )
    with pytest.raises(CredentialsError) as caught:
        read_password(tmp_path / "missing", environ={})
    assert str(caught.value) == (
        f"mqtt password file {tmp_path / 'missing'} does not exist: create it (one line, the "
        "password) or fix mqtt.password_file"
    )
    (tmp_path / "empty").write_text("\n", encoding="utf-8")
    with pytest.raises(CredentialsError, match="is empty: write the password in it"):
        read_password(tmp_path / "empty", environ={})
