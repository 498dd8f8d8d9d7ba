"""`python -m bff.projector` as it runs in the stack, on the real broker: it relays the BFF's
outbox to Kafka, projects the events it consumes, and dead-letters what it can never apply."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from typing import TYPE_CHECKING

import httpx
import pytest
from bff_events import succeeded
from bff_support import CODEC, new_key, new_payment
from confluent_kafka import Consumer, Producer, TopicPartition
from e2e_support import find_event

from bff.projector.entrypoint import CATALOG_NAME
from payctl.embedded import free_port, wait_for
from paykit.kafka import ensure_topics, producer_config
from payment_events.catalog import all_topic_names, topic_for, topics_consumed_by
from payment_events.events import PaymentInitiated

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from fastapi.testclient import TestClient

    from payment_events.events import Event

pytestmark = pytest.mark.integration


def start_group_at_the_end(broker: str, group: str, topics: list[str]) -> None:
    """Commits the group's offsets at the high watermarks: the process sees only this test's
    events, not the ones other tests left on the shared topics."""
    consumer = Consumer({"bootstrap.servers": broker, "group.id": group})
    try:
        metadata = consumer.list_topics(timeout=10)
        ends = []
        for topic in topics:
            for partition in metadata.topics[topic].partitions:
                tp = TopicPartition(topic, partition)
                _, high = consumer.get_watermark_offsets(tp, timeout=10)
                ends.append(TopicPartition(topic, partition, high))
        consumer.commit(offsets=ends, asynchronous=False)
    finally:
        consumer.close()


def produce(broker: str, event: Event) -> None:
    producer = Producer(producer_config(broker, "bff-test"))
    producer.produce(topic_for(type(event)).name, key=event.payment_id, value=CODEC.encode(event))
    assert producer.flush(10) == 0


@pytest.fixture
def projector_process(bff_database: str, broker: str, tmp_path: Path) -> Iterator[str]:
    """The running projector; yields the base URL of its health server."""
    ensure_topics(broker, all_topic_names(), partitions=3)
    group = f"bff-projector-{uuid.uuid4().hex[:8]}"
    start_group_at_the_end(broker, group, topics_consumed_by(CATALOG_NAME))
    health_port = free_port()
    env = os.environ | {
        "BFF_DATABASE_URL": bff_database,
        "KAFKA_BOOTSTRAP_SERVERS": broker,
        "CONSUMER_GROUP": group,
        "HEALTH_PORT": str(health_port),
        "PAYMENTS_ENV": "test",
        "LOG_FORMAT": "json",
    }
    log = tmp_path / "projector.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bff.projector"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{health_port}"
    try:
        wait_for(
            lambda: httpx.get(f"{url}/healthz", timeout=2).status_code == 200,
            60,
            f"the projector healthy (log: {log})",
        )
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_projector_relays_payments_and_projects_their_events(
    api: TestClient, broker: str, projector_process: str
) -> None:
    response = api.post("/v1/payments", json=new_payment(), headers=new_key())
    payment_id = response.json()["payment_id"]

    published = find_event(broker, "payment-initiated", payment_id)
    initiated = CODEC.decode(published.value())
    assert isinstance(initiated, PaymentInitiated)
    assert initiated.amount_minor == 1250

    produce(broker, succeeded(payment_id, amount=1250))

    def authorized() -> bool:
        return bool(api.get(f"/v1/payments/{payment_id}").json()["status"] == "AUTHORIZED")

    wait_for(authorized, 30, f"payment {payment_id} AUTHORIZED")


def test_an_event_for_an_unknown_payment_is_dead_lettered(
    broker: str, projector_process: str
) -> None:
    stranger = str(uuid.uuid4())
    produce(broker, succeeded(stranger))

    dead = find_event(broker, "payment-succeeded.dlq", stranger)
    headers = dict(dead.headers())
    assert headers["dlq.error.code"] == b"unknown_payment"
    assert headers["dlq.service"] == b"bff-projector"
