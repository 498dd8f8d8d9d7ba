"""`paykit.kafka.take_available` against the real broker: a lone message is handed on as soon as
it is there, not when a batch would have filled or the wait ran out, and never more than the
limit at once."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING

import pytest
from confluent_kafka import Consumer
from runtime_support import produce

from paykit.kafka import consumer_config, take_available

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.integration

# Far longer than any hand-over takes: a call that waited for a batch to fill would use all of it.
LONG_WAIT = 60.0


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
    sent = [f"m{n}".encode() for n in range(7)]
    produce(broker, topic, *((f"pay_{n}", v) for n, v in enumerate(sent)), partition=0)

    got: list[bytes] = []
    while len(got) < len(sent):
        taken = take_available(consumer, 3, LONG_WAIT)
        assert 1 <= len(taken) <= 3
        got.extend(m.value() for m in taken)

    assert got == sent


def test_nothing_to_take_returns_empty_after_the_wait(consumer: Consumer) -> None:
    assert take_available(consumer, 10, 0.2) == []
    assert take_available(consumer, 0, LONG_WAIT) == []
