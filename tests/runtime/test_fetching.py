"""How the consumer loop fetches, against the real broker: `paykit.kafka.take_available` hands a
lone message on as soon as it is there (not when a batch would have filled or the wait ran out)
and never more than the limit at once; `paykit.kafka.rest` stops fetching while it rests, and
messages that arrive while consumers rest are each handled once."""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import TYPE_CHECKING

import pytest
from confluent_kafka import Consumer
from runtime_support import (
    codec,
    committed_total,
    count,
    effects,
    initiated,
    produce,
    record_effect,
    running_loop,
)

from payctl.embedded import wait_for
from paykit.kafka import consumer_config, rest, take_available, waiting

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from sqlalchemy import Engine

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


def test_a_resting_consumer_does_not_fetch(broker: str, topic: str) -> None:
    counter = FetchCounter()
    consumer = Consumer(
        consumer_config(broker, uuid.uuid4().hex, "test")
        | {"statistics.interval.ms": 100, "stats_cb": counter}
    )
    consumer.subscribe([topic])
    try:
        wait_for(lambda: consumer.poll(0.1) is None and bool(consumer.assignment()), 30, "assigned")
        polling = counter.rate_over(consumer, lambda: consumer.poll(2.0))
        if polling < 50:
            pytest.skip(f"this broker holds empty fetches ({polling:.0f}/s): nothing to stop")
        resting = counter.rate_over(consumer, lambda: rest(consumer, 2.0, threading.Event()))
    finally:
        consumer.close()

    # Both windows include the polls around them; only the one that rested stopped fetching.
    assert resting < polling / 4, (resting, polling)


def test_messages_that_arrive_while_consumers_rest_are_each_handled_once(
    broker: str, engine: Engine, topic: str
) -> None:
    group = uuid.uuid4().hex
    sent = 0
    with running_loop(broker, engine, topic, record_effect, group, idle_rest=0.1):
        for burst in (1, 5, 20):
            events = [initiated() for _ in range(burst)]
            produce(broker, topic, *((e.payment_id, codec.encode(e)) for e in events))
            sent += burst
            # Once these are handled the loop finds nothing and rests: the next burst comes
            # while it does.
            wait_for(
                lambda n=sent: committed_total(broker, group, topic) == n, 30, f"{sent} committed"
            )
    assert count(engine, effects) == sent


def test_messages_fetched_before_a_rest_come_once_each_in_order_after_it(
    broker: str, topic: str, consumer: Consumer
) -> None:
    # A pause drops what librdkafka fetched and did not return yet; resuming fetches it again
    # from the last message returned: nothing is skipped, nothing comes twice.
    sent = send(broker, topic, 7)

    got = [m.value() for m in take_available(consumer, 3, LONG_WAIT)]
    rest(consumer, 0.2, threading.Event())
    take_into(got, consumer, len(sent), limit=3)

    assert got == sent


def test_a_consumer_with_messages_waiting_does_not_rest(
    broker: str, topic: str, consumer: Consumer
) -> None:
    # Resting would drop what librdkafka fetched and not yet returned, and fetch it again later.
    sent = send(broker, topic, 5)
    got = [m.value() for m in take_available(consumer, 1, LONG_WAIT)]
    wait_for(lambda: waiting(consumer, consumer.assignment()), 30, "the others known to wait")

    started = time.monotonic()
    rest(consumer, LONG_WAIT, threading.Event())
    assert time.monotonic() - started < LONG_WAIT / 2

    take_into(got, consumer, len(sent), limit=5)
    assert got == sent
    assert not waiting(consumer, consumer.assignment())
