"""An idle outbox relay costs nothing and loses no time: it waits for the database's notice that
rows were committed (the trigger every service's migrations put on its outbox), publishes them at
once, and stops at once when asked, however long its sweep."""

from __future__ import annotations

import threading
import time
import uuid
from typing import TYPE_CHECKING

import pytest
from confluent_kafka import Producer
from runtime_support import read_all
from sqlalchemy import insert

import billing
from payctl.embedded import wait_for
from paykit.db import make_engine, outbox
from paykit.kafka import ensure_topics, producer_config
from paykit.migrations import upgrade
from paykit.relay import OutboxRelay

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy import Engine

pytestmark = pytest.mark.integration

# Far longer than any test waits: a relay that found a row only by sweeping would fail it.
SWEEP = 600.0


@pytest.fixture
def service_engine(fresh_database: str) -> Iterator[Engine]:
    """A service's own database, migrated as payctl migrates it (trigger included)."""
    upgrade(billing.MIGRATIONS, fresh_database)
    engine = make_engine(fresh_database)
    yield engine
    engine.dispose()


@pytest.fixture
def idle_relay(broker: str, service_engine: Engine) -> Iterator[OutboxRelay]:
    stop = threading.Event()
    relay = OutboxRelay(
        service_engine, Producer(producer_config(broker, "relay")), stop, sweep_seconds=SWEEP
    )
    thread = threading.Thread(target=relay.run)
    thread.start()
    try:
        wait_for(lambda: relay.idle, 30, "the relay waiting for rows")
        yield relay
    finally:
        stop.set()
        relay.stop_waiting()
        thread.join(30)
    assert not thread.is_alive()


def commit_row(engine: Engine, topic: str, value: bytes) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(outbox),
            {
                "event_id": str(uuid.uuid4()),
                "topic": topic,
                "key": "k",
                "value": value,
                "headers": {},
            },
        )


def test_an_idle_relay_publishes_a_committed_row_at_once(
    broker: str, service_engine: Engine, idle_relay: OutboxRelay
) -> None:
    topic = f"t-{uuid.uuid4().hex[:10]}"
    ensure_topics(broker, [topic], partitions=1)

    commit_row(service_engine, topic, b"woken")

    assert [m.value() for m in read_all(broker, topic, 1)] == [b"woken"]
    wait_for(lambda: idle_relay.backlog() == 0, 30, "the row stamped published")


def test_an_idle_relay_stops_at_once_when_asked(broker: str, service_engine: Engine) -> None:
    stop = threading.Event()
    relay = OutboxRelay(
        service_engine, Producer(producer_config(broker, "relay")), stop, sweep_seconds=SWEEP
    )
    thread = threading.Thread(target=relay.run)
    thread.start()
    wait_for(lambda: relay.idle, 30, "the relay waiting for rows")

    asked = time.monotonic()
    stop.set()
    relay.stop_waiting()
    thread.join(30)

    assert not thread.is_alive()
    assert time.monotonic() - asked < SWEEP / 10
