"""Shared fixtures: a real Mosquitto broker (plain, and TLS + password), subscribers,
and paths to the real datasets beside the repository."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.broker import Credentials, Mosquitto, find_mosquitto
from support.certs import make_tls_files
from support.station_fixtures import postgres_server, station_db  # noqa: F401 (fixtures)
from support.subscriber import Subscriber

REPO = Path(__file__).resolve().parent.parent
SHARED_DATASETS = REPO.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def mosquitto_binary() -> str:
    """The mosquitto binary. Missing: a skip on a developer machine, a failure in CI."""
    binary = find_mosquitto()
    if binary is None:
        message = "mosquitto is not installed (tools/setup.sh installs Debian's 'mosquitto')"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must have a real broker")
        pytest.skip(message)
    return binary


@pytest.fixture
def broker(mosquitto_binary: str, tmp_path: Path) -> Iterator[Mosquitto]:
    """A running anonymous broker on a free 127.0.0.1 port; stop()/restart() for outages."""
    b = Mosquitto(mosquitto_binary, tmp_path / "broker")
    b.start()
    yield b
    b.stop()


@pytest.fixture
def tls_broker(mosquitto_binary: str, tmp_path: Path) -> Iterator[Mosquitto]:
    """A running broker that only speaks TLS and wants a username and password."""
    tls = make_tls_files(tmp_path / "tls")
    b = Mosquitto(
        mosquitto_binary,
        tmp_path / "tls-broker",
        tls=tls,
        credentials=Credentials("bearagent", "s3cret-test-password"),
    )
    b.start()
    yield b
    b.stop()


@pytest.fixture
def subscribe() -> Iterator[Callable[..., Subscriber]]:
    """Factory: ``subscribe(broker, "bearid/#")`` returns a connected `Subscriber`."""
    made: list[Subscriber] = []

    def factory(b: Mosquitto, topics: str | list[str] = "#", **kwargs: object) -> Subscriber:
        s = Subscriber(b, topics, **kwargs)  # type: ignore[arg-type]
        made.append(s)
        return s.connect()

    yield factory
    for s in made:
        s.close()


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """../shared/datasets, or a skip saying it is absent (a user's clone has none)."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip(
            f"real datasets not found at {SHARED_DATASETS} (they sit beside the clone in CI)"
        )
    return SHARED_DATASETS
