"""`payctl trace PAYMENT_ID` against the running stack: one payment's events in time order with
their causes, every service's rows and the provider's operations, read from a bounded window of
the key's partition only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from confluent_kafka import Producer
from e2e_support import find_event, new_payment, pay, payments_client, wait_for_history
from ops_support import payctl, payctl_json

from payctl.ops.trace_events import partition_of
from paykit.kafka import ensure_topics, producer_config

if TYPE_CHECKING:
    from payctl.stack import Stack

pytestmark = pytest.mark.e2e

CHAIN = ["PaymentInitiated", "PaymentSucceeded", "OrderConfirmed", "PaymentCaptured"]
SETTLED = {"AUTHORIZED", "ORDER_CONFIRMED", "CAPTURED"}
LATER_COPIES = 1000


def captured_payment(stack: Stack, sellers: list[int]) -> str:
    with payments_client(stack) as client:
        payment_id = pay(client, new_payment(sellers=sellers))
        wait_for_history(client, payment_id, SETTLED)
    return payment_id


def test_a_captured_payment_is_traced_across_every_service(stack: Stack) -> None:
    payment_id = captured_payment(stack, [1200, 300])
    traced = payctl_json(stack, "trace", payment_id)

    events = traced["events"]
    names = [e["event"] for e in events]
    assert [n for n in names if n in CHAIN] == CHAIN
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    by_name = {e["event"]: e for e in events}
    assert len({e["correlation_id"] for e in events}) == 1
    assert events[0]["correlation_id"]
    for cause, effect in zip(CHAIN, CHAIN[1:], strict=False):
        assert by_name[effect]["causation_id"] == by_name[cause]["event_id"]
    assert [by_name[n]["producer"] for n in CHAIN] == [
        "bff",
        "billing-consumer",
        "order-consumer",
        "capture-consumer",
    ]
    assert {e["topic"] for e in events} >= {"payment-initiated", "payment-captured"}

    rows = traced["rows"]
    [bff] = rows["bff"]["payments"]
    assert traced["status"] == bff["status"] == "CAPTURED"
    assert bff["sso_token"] == "<redacted>"
    assert {h["status"] for h in rows["bff"]["payment_history"]} >= SETTLED
    [authorization] = rows["billing"]["authorizations"]
    [order] = rows["orders"]["orders"]
    [captured] = rows["capture"]["payments"]
    assert captured["status"] == "CAPTURED"
    assert order["payment_id"] == captured["payment_id"] == payment_id
    assert len(rows["capture"]["payment_orders"]) == 2
    assert all(rs == [] for rs in traced["retry_schedule"].values())
    assert traced["dead_letters"] == []

    operations = traced["provider_operations"]
    assert [o["kind"] for o in operations].count("authorization") == 1
    assert sorted(o["amount_minor"] for o in operations if o["kind"] == "capture") == [300, 1200]
    assert authorization["provider_authorization_id"] == operations[0]["id"]

    shown = payctl(stack, "trace", payment_id)
    assert shown.exit_code == 0, shown.output
    for name in [*CHAIN, "billing.authorizations", "capture.payment_orders", "provider"]:
        assert name in shown.output


def test_the_trace_reads_a_bounded_window_of_the_keys_partition(stack: Stack) -> None:
    payment_id = captured_payment(stack, [700])
    # Many messages after the payment's window in the partition its events are in, as a trace
    # run hours later finds: copies of an earlier payment's event (its consumer's inbox makes
    # them no-ops), stamped ten minutes from now.
    copied = find_event(stack.bootstrap, "payment-captured", captured_payment(stack, [500]))
    topics = Producer(producer_config(stack.bootstrap, "t")).list_topics(timeout=10).topics
    partition = partition_of(payment_id.encode(), len(topics["payment-captured"].partitions))
    later = int((datetime.now(UTC) + timedelta(minutes=10)).timestamp() * 1000)
    copies: list[int] = []

    def delivered(err: Any, msg: Any) -> None:
        assert err is None
        copies.append(msg.offset())

    producer = Producer(producer_config(stack.bootstrap, "test-trace-later-copies"))
    for _ in range(LATER_COPIES):
        producer.produce(
            "payment-captured",
            key=copied.key(),
            value=copied.value(),
            headers=copied.headers(),
            partition=partition,
            timestamp=later,
            on_delivery=delivered,
        )
    assert producer.flush(30) == 0

    traced = payctl_json(stack, "trace", payment_id)

    assert [e["event"] for e in traced["events"] if e["event"] in CHAIN] == CHAIN
    [read] = [r for r in traced["ranges"] if r["topic"] == "payment-captured"]
    assert read["partition"] == partition
    assert read["to"] <= min(copies)
    assert traced["messages_read"] < LATER_COPIES


def test_the_partition_is_the_one_librdkafka_chooses(stack: Stack) -> None:
    topic = f"test-partitioner-{uuid.uuid4().hex[:8]}"
    ensure_topics(stack.bootstrap, [topic], partitions=6)
    producer = Producer(producer_config(stack.bootstrap, "test-partitioner"))
    landed: dict[bytes, int] = {}

    def delivered(err: Any, msg: Any) -> None:
        assert err is None
        landed[msg.key()] = msg.partition()

    keys = [str(uuid.uuid4()).encode() for _ in range(300)]
    for key in keys:
        producer.produce(topic, key=key, value=b"x", on_delivery=delivered)
    assert producer.flush(30) == 0
    assert {k: partition_of(k, 6) for k in keys} == landed


def test_an_unknown_payment_is_refused(stack: Stack) -> None:
    unknown = str(uuid.uuid4())
    result = payctl(stack, "trace", unknown)
    assert result.exit_code == 2
    assert f"no payment {unknown}" in result.output


def test_a_malformed_payment_id_is_refused(stack: Stack) -> None:
    result = payctl(stack, "trace", "not-a-payment")
    assert result.exit_code == 2
    assert "not a payment id" in result.output
