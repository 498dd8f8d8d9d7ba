"""How the consumer loop fetches, against the real broker: `paykit.kafka.take_available` hands a
lone message on as soon as it is there (not when a batch would have filled or the wait ran out)
and never more than the limit at once; an idle consumer waits in the broker's long poll."""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import TYPE_CHECKING

import pytest
from confluent_kafka import Consumer
from runtime_support import (
    produce,
)

from payctl.embedded import wait_for
from paykit.kafka import consumer_config, take_available

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


pytestmark = pytest.mark.integration

# Far longer than any hand-over takes: a call that waited for a batch to fill would use all of it.
LONG_WAIT = 60.0


def send(broker: str, topic: str, count: int) -> list[bytes]:
    """`count` distinct messages to partition 0, in order; returns their values."""
    sent = [f"m{n}".encode() for n in range(count)]
    produce(broker, topic, *((f"pay_{n}", v) for n, v in enumerate(sent)), partition=0)
    return sent


def take_into(got: list[bytes], consumer: Consumer, count: int, limit: int) -> None:
    """Takes message values into `got` until it holds `count`, never more than `limit` at once."""

    def enough() -> bool:
        taken = take_available(consumer, limit, 1.0)
        assert len(taken) <= limit
        got.extend(m.value() for m in taken)
        return len(got) >= count

    wait_for(enough, 30, f"{count} messages", interval=0)


@pytest.fixture
def consumer(broker: str, topic: str) -> Iterator[Consumer]:
    c = Consumer(consumer_config(broker, uuid.uuid4().hex, "test"))
    c.subscribe([topic])
    yield c
    c.close()


def test_a_lone_message_comes_without_waiting_for_a_batch(
    broker: str, topic: str, consumer: Consumer
) -> None:
    produce(broker, topic, ("pay_1", b"only"))

    started = time.monotonic()
    taken = take_available(consumer, 100, LONG_WAIT)

    assert [m.value() for m in taken] == [b"only"]
    assert time.monotonic() - started < LONG_WAIT / 2


def test_with_a_linger_what_arrives_soon_after_the_first_message_comes_with_it(
    broker: str, topic: str, consumer: Consumer
) -> None:
    produce(broker, topic, ("pay_1", b"first"))
    later = threading.Timer(0.2, produce, (broker, topic, ("pay_2", b"soon after")))
    later.start()
    try:
        taken = take_available(consumer, 100, LONG_WAIT, linger=5.0)
    finally:
        later.join()

    assert [m.value() for m in taken] == [b"first", b"soon after"]


def test_messages_come_at_most_limit_at_a_time_and_all_of_them(
    broker: str, topic: str, consumer: Consumer
) -> None:
    sent = send(broker, topic, 7)

    got: list[bytes] = []
    take_into(got, consumer, len(sent), limit=3)

    assert got == sent


def test_nothing_to_take_returns_empty_after_the_wait(consumer: Consumer) -> None:
    assert take_available(consumer, 10, 0.2) == []
    assert take_available(consumer, 0, LONG_WAIT) == []


class FetchCounter:
    """Fetch requests sent so far, from librdkafka's statistics (delivered during polls)."""

    def __init__(self) -> None:
        self.snapshots: list[tuple[float, int]] = []  # (seconds, fetches so far)

    def __call__(self, stats_json: str) -> None:
        stats = json.loads(stats_json)
        fetches = sum(b.get("req", {}).get("Fetch", 0) for b in stats["brokers"].values())
        self.snapshots.append((stats["ts"] / 1e6, fetches))

    def rate_over(self, consumer: Consumer, between: Callable[[], object]) -> float:
        """Fetches per second from a snapshot taken before `between` to one taken after it."""
        consumer.poll(0.15)
        start = self.snapshots[-1]
        between()
        consumer.poll(0.15)
        end = self.snapshots[-1]
        return (end[1] - start[1]) / (end[0] - start[0])


def test_an_idle_consumer_waits_in_the_brokers_long_poll(broker: str, topic: str) -> None:
    # Kafka holds an empty fetch for up to fetch.wait.max.ms (2 s in paykit's settings): an idle
    # consumer sends one every few seconds. A broker that answered at once would see thousands.
    counter = FetchCounter()
    consumer = Consumer(
        consumer_config(broker, uuid.uuid4().hex, "test")
        | {"statistics.interval.ms": 100, "stats_cb": counter}
    )
    consumer.subscribe([topic])
    try:
        wait_for(lambda: consumer.poll(0.1) is None and bool(consumer.assignment()), 30, "assigned")
        idle = counter.rate_over(consumer, lambda: consumer.poll(3.0))
    finally:
        consumer.close()

    assert idle < 10, f"{idle:.0f} fetches/s from an idle consumer"


def test_a_message_sent_to_an_idle_consumer_is_handed_on_at_once(
    broker: str, topic: str, consumer: Consumer
) -> None:
    # The long poll ends when data arrives, not when its wait runs out.
    wait_for(lambda: consumer.poll(0.1) is None and bool(consumer.assignment()), 30, "assigned")
    take_available(consumer, 10, 1.0)  # idle now: its fetch is held by the broker
    produce(broker, topic, ("pay_1", b"late"))

    started = time.monotonic()
    taken = take_available(consumer, 10, LONG_WAIT)

    assert [m.value() for m in taken] == [b"late"]
    # Before the held fetch would have run out: the broker answered because data arrived.
    assert time.monotonic() - started < int(consumer_config("", "", "")["fetch.wait.max.ms"]) / 1000
