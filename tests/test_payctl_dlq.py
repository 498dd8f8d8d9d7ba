"""`payctl dlq`: dead letters listed, shown, re-driven once onto their topic and purged, against
a stack of this module's own (its consumers dead-letter on purpose, and the session stack's
audits expect none). The unit tests at the top need no servers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner
from confluent_kafka import Consumer, Producer, TopicPartition
from e2e_support import CODEC, find_event, operations, wait_committed_past
from ops_support import payctl, payctl_json

from payctl.cli import main
from payctl.embedded import free_port, wait_for
from payctl.ops.dead_letter_store import DeadLetter, Selection, dead_letter_position
from payctl.ops.purge import plan_purge
from payctl.ops.redrive import REDRIVEN_FROM, plan_redrive
from payctl.ops.topic_ranges import Position
from paykit.kafka import producer_config
from paykit.messages import Trace, as_kafka_headers
from payment_events.events import OrderFailed, PaymentInitiated, SellerLine

if TYPE_CHECKING:
    from payctl.stack import Stack

# -- without servers -----------------------------------------------------------------------


def letter(
    at: str,
    *,
    payment: str = "pay-1",
    code: str = "unknown_payment",
    service: str = "billing-consumer",
    original: str = "order-failed:2:40",
    failed_at: datetime | None = None,
) -> DeadLetter:
    where = Position.parse(original)
    headers: list[tuple[str, str | bytes | None]] = [
        ("correlation_id", b"corr-1"),
        ("event_type", b"OrderFailed"),
        ("dlq.error.code", code.encode()),
        ("dlq.service", service.encode()),
        ("dlq.original.topic", where.topic.encode()),
        ("dlq.original.partition", str(where.partition).encode()),
        ("dlq.original.offset", str(where.offset).encode()),
        ("dlq.attempts", b"1"),
    ]
    if failed_at is not None:
        headers.append(("dlq.failed_at", failed_at.isoformat().encode()))
    return DeadLetter(Position.parse(at), payment.encode(), b"\x00value", headers, None)


def test_a_dead_letter_id_is_topic_partition_offset_and_the_dlq_suffix_may_be_left_out() -> None:
    assert dead_letter_position("order-failed.dlq:3:17") == Position("order-failed.dlq", 3, 17)
    assert dead_letter_position("order-failed:3:17") == Position("order-failed.dlq", 3, 17)
    assert str(Position("order-failed.dlq", 3, 17)) == "order-failed.dlq:3:17"


@pytest.mark.parametrize("text", ["order-failed", "order-failed:3", "order-failed:x:1", ":1:2"])
def test_a_malformed_id_is_refused_with_exit_status_2(text: str) -> None:
    result = CliRunner().invoke(main, ["dlq", "show", text])

    assert result.exit_code == 2
    assert "TOPIC:PARTITION:OFFSET" in result.output


def test_an_unknown_topic_is_refused_naming_the_dead_letter_topics() -> None:
    result = CliRunner().invoke(main, ["dlq", "list", "--topic", "orders-failed"])

    assert result.exit_code == 2
    assert "unknown topic 'orders-failed'" in result.output
    assert "order-failed.dlq" in result.output


def test_an_unreachable_broker_is_refused_with_exit_status_2() -> None:
    env = {"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"}
    result = CliRunner().invoke(main, ["dlq", "list"], env=env)

    assert result.exit_code == 2
    assert "cannot reach the broker" in result.output


def test_redrive_refuses_to_take_everything_without_all() -> None:
    result = CliRunner().invoke(main, ["dlq", "redrive", "--yes"])

    assert result.exit_code == 2
    assert "--all" in result.output


def test_selectors_combine_and_each_one_s_values_are_alternatives() -> None:
    billing = letter("order-failed.dlq:0:1", payment="a")
    projector = letter("order-failed.dlq:0:2", payment="a", service="bff-projector")
    other = letter("order-failed.dlq:1:1", payment="b")
    wanted = Selection(payments=frozenset({"a", "b"}), services=frozenset({"billing-consumer"}))

    assert [d for d in (billing, projector, other) if wanted.matches(d)] == [billing, other]
    assert Selection().is_everything
    assert Selection(ids=frozenset({billing.position})).wanted_topics() == ["order-failed.dlq"]


def test_a_redriven_copy_has_the_original_headers_and_where_it_came_from() -> None:
    plan = plan_redrive([letter("order-failed.dlq:0:5")], {})

    [redrive] = plan.redrives
    topic, key, value, headers = redrive.message()
    assert (topic, key, value) == ("order-failed", b"pay-1", b"\x00value")
    assert headers == [
        ("correlation_id", b"corr-1"),
        ("event_type", b"OrderFailed"),
        (REDRIVEN_FROM, "order-failed.dlq:0:5"),
    ]


def test_a_message_two_services_dead_lettered_goes_back_once_and_the_ledger_is_honoured() -> None:
    billing = letter("order-failed.dlq:0:5")
    projector = letter("order-failed.dlq:0:6", service="bff-projector")
    earlier = letter("order-failed.dlq:0:1", original="order-failed:2:7")
    landed = Position("order-failed", 2, 90)

    plan = plan_redrive([projector, earlier, billing], {earlier.position: landed})

    assert [r.letters for r in plan.redrives] == [(billing, projector)]
    assert plan.already == [(earlier, landed)]


def test_a_purge_cuts_each_partition_before_its_first_dead_letter_not_older_than_the_time() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    old = letter("order-failed.dlq:0:3", failed_at=t - timedelta(hours=2))
    new = letter("order-failed.dlq:0:4", failed_at=t + timedelta(hours=1))
    older_behind = letter("order-failed.dlq:0:5", failed_at=t - timedelta(hours=3))
    only_old = letter("order-failed.dlq:1:0", failed_at=t - timedelta(days=1))
    ranges = {("order-failed.dlq", 0): (3, 6), ("order-failed.dlq", 1): (0, 1)}

    cuts = plan_purge([old, new, older_behind, only_old], ranges, t, {only_old.position: landed()})

    assert [(c.partition, c.cut, c.records, c.not_redriven) for c in cuts] == [
        (0, 4, 1, 1),  # the newer one and what follows it stay
        (1, 1, 1, 0),  # every record, and that one was re-driven
    ]
    everything = plan_purge([old, new, older_behind], ranges, None, {})
    assert [(c.cut, c.records) for c in everything] == [(6, 3), (1, 1)]


def landed() -> Position:
    return Position("order-failed", 0, 99)


# -- against a stack -----------------------------------------------------------------------


def produce(stack: Stack, topic: str, key: str, value: bytes, event_type: str) -> None:
    """Publishes one message with the headers the services write."""
    producer = Producer(producer_config(stack.bootstrap, "test-dlq"))
    headers = as_kafka_headers(Trace.start(key).headers(event_type))
    producer.produce(topic, key=key.encode(), value=value, headers=headers)
    assert producer.flush(10) == 0


def dead_letters(stack: Stack, *args: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = payctl_json(stack, "dlq", "list", *args)["messages"]
    return messages


def wait_dead_letters(stack: Stack, count: int, *args: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def enough() -> bool:
        found[:] = dead_letters(stack, *args)
        return len(found) >= count

    wait_for(enough, 60, f"{count} dead letters for {args}", interval=0.5)
    return found


def voids(stack: Stack, payment_id: str) -> int:
    return sum(1 for op in operations(stack.psp_url, reference=payment_id) if op["kind"] == "void")


def record_at(bootstrap: str, where: Position) -> Any:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"t-{uuid.uuid4().hex}"})
    consumer.assign([TopicPartition(where.topic, where.partition, where.offset)])
    try:
        found: list[Any] = []

        def arrived() -> bool:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None and msg.offset() == where.offset:
                found.append(msg)
            return bool(found)

        wait_for(arrived, 30, f"the record at {where}", interval=0)
        return found[0]
    finally:
        consumer.close()


@pytest.mark.e2e
def test_a_poison_order_failure_is_redriven_after_the_fix_and_voids_once(
    own_stack: Stack,
) -> None:
    stack = own_stack
    # Billing is to learn of the payment below without an order being made for it: the order
    # consumer's own OrderFailed or OrderConfirmed would settle the payment instead of the
    # re-driven message.
    stack.stop_service("order-consumer")
    payment_id = str(uuid.uuid4())
    poison = OrderFailed(payment_id=payment_id, code="order_refused", reason="stock gone")
    produce(stack, "order-failed", payment_id, CODEC.encode(poison), "OrderFailed")

    # Billing never saw the payment, nor did the projector: each dead-letters its copy.
    found = wait_dead_letters(stack, 2, "--payment", payment_id)
    assert {(d["service"], d["code"]) for d in found} == {
        ("billing-consumer", "unknown_payment"),
        ("bff-projector", "unknown_payment"),
    }
    [billing] = [d for d in found if d["service"] == "billing-consumer"]
    assert billing["id"].startswith("order-failed.dlq:")
    assert billing["original"].startswith("order-failed:")
    summary = {t["topic"]: t for t in payctl_json(stack, "dlq", "list")["topics"]}
    assert summary["order-failed.dlq"]["count"] >= 2
    table = payctl(stack, "dlq", "list", "--payment", payment_id)
    assert billing["id"] in table.output
    assert "unknown_payment" in table.output

    shown = payctl_json(stack, "dlq", "show", billing["id"])
    assert shown["event_type"] == "OrderFailed"
    assert shown["event"]["event_id"] == poison.event_id
    assert shown["headers"]["dlq.service"] == "billing-consumer"
    assert shown["decode_error"] is None

    dry = payctl_json(
        stack, "dlq", "redrive", "--payment", payment_id, "--service", "billing-consumer",
        "--dry-run",
    )  # fmt: skip
    assert [d["id"] for d in dry["would_redrive"]] == [billing["id"]]

    # The fix: billing gets to know the payment and holds its money.
    initiated = PaymentInitiated(
        payment_id=payment_id,
        customer_id="cus_dlq",
        currency="EUR",
        amount_minor=1200,
        payment_method="pm_card_visa",
        lines=(SellerLine(line_no=0, seller_id="seller_dlq", amount_minor=1200),),
    )
    produce(stack, "payment-initiated", payment_id, CODEC.encode(initiated), "PaymentInitiated")
    find_event(stack.bootstrap, "payment-succeeded", payment_id, timeout=60)
    assert voids(stack, payment_id) == 0

    selectors = ("--payment", payment_id, "--service", "billing-consumer")
    first = payctl_json(stack, "dlq", "redrive", *selectors, "--yes")
    [redriven] = first["redriven"]
    assert redriven["id"] == billing["id"]
    wait_for(lambda: voids(stack, payment_id) == 1, 60, "the authorization voided")

    landed = Position.parse(redriven["redriven_to"])
    copy = record_at(stack.bootstrap, landed)
    headers = dict(copy.headers())
    assert headers[REDRIVEN_FROM] == billing["id"].encode()
    assert not [k for k in headers if k.startswith("dlq.") and k != REDRIVEN_FROM]
    assert copy.key() == payment_id.encode()
    assert copy.value() == CODEC.encode(poison)

    again = payctl_json(stack, "dlq", "redrive", *selectors, "--yes")
    assert again["redriven"] == []
    assert [d["id"] for d in again["already_redriven"]] == [billing["id"]]
    table = payctl(stack, "dlq", "redrive", *selectors, "--yes")
    assert table.exit_code == 0, table.output
    assert "already re-driven" in table.output
    where = TopicPartition(landed.topic, landed.partition, landed.offset)
    wait_committed_past(stack.bootstrap, "billing-consumer", where)
    assert voids(stack, payment_id) == 1
    listed = {d["id"]: d for d in dead_letters(stack, "--payment", payment_id)}
    assert listed[billing["id"]]["redriven_to"] == str(landed)


@pytest.mark.e2e
def test_purge_deletes_only_dead_letters_older_than_the_time_and_all_deletes_the_rest(
    own_stack: Stack,
) -> None:
    stack = own_stack
    key = str(uuid.uuid4())  # one key: both land on one partition
    produce(stack, "payment-voided", key, b"not avro at all", "PaymentVoided")
    [old] = wait_dead_letters(stack, 1, "--payment", key)
    assert (old["service"], old["code"]) == ("bff-projector", "undecodable")
    shown = payctl_json(stack, "dlq", "show", old["id"])
    assert shown["event"] is None
    assert shown["decode_error"].startswith("undecodable:")
    between = datetime.now(UTC)
    produce(stack, "payment-voided", key, b"nor this", "PaymentVoided")
    new = next(d for d in wait_dead_letters(stack, 2, "--payment", key) if d["id"] != old["id"])
    old_at, new_at = Position.parse(old["id"]), Position.parse(new["id"])
    before = ("--topic", "payment-voided", "--before", between.isoformat())

    dry = payctl_json(stack, "dlq", "purge", *before, "--dry-run")
    [cut] = [p for p in dry["partitions"] if p["partition"] == old_at.partition]
    assert cut["delete_before"] == new_at.offset
    assert cut["not_redriven"] >= 1
    assert dry["deleted"] == 0
    assert payctl(stack, "dlq", "show", old["id"]).exit_code == 0  # the dry run deleted nothing

    declined = payctl(stack, "dlq", "purge", *before, input="n\n")
    assert declined.exit_code != 0
    assert payctl(stack, "dlq", "show", old["id"]).exit_code == 0

    purged = payctl_json(stack, "dlq", "purge", *before, "--yes")
    assert purged["deleted"] >= 1
    gone = payctl(stack, "dlq", "show", old["id"])
    assert gone.exit_code == 2
    assert "no dead letter at" in gone.output
    assert payctl(stack, "dlq", "show", new["id"]).exit_code == 0

    payctl_json(stack, "dlq", "purge", "--topic", "payment-voided", "--all", "--yes")
    assert dead_letters(stack, "--topic", "payment-voided") == []
    summary = {t["topic"]: t for t in payctl_json(stack, "dlq", "list")["topics"]}
    assert summary["payment-voided.dlq"]["count"] == 0


@pytest.mark.e2e
def test_a_redrive_of_an_id_that_holds_no_dead_letter_changes_nothing(own_stack: Stack) -> None:
    result = payctl(own_stack, "dlq", "redrive", "--id", "order-failed.dlq:0:99999", "--yes")

    assert result.exit_code == 2
    assert "no dead letter at order-failed.dlq:0:99999" in result.output
