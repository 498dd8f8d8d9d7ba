"""Measures `payctl trace` on topics as full as a stack's after 100,000 payments: writes that
many payments' events (synthetic, encoded with the codec, timestamped over the last hours), the
BFF row of one of them, then times tracing that one.

    python -m payctl.ops.trace_bench [--payments 100000] [--hours 1.5] [--runs 3]

It acts on the stack the environment names, as the ops verbs do, and writes to its topics: it
refuses while any consumer group has members, since the services would handle the events."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import click
from confluent_kafka import Producer
from psycopg.types.json import Jsonb

from payctl.errors import OpsError
from payctl.ops.command import data_dir_option, refusing, target_of
from payctl.ops.groups import GROUPS, live_members
from payctl.ops.trace import trace_payment
from paykit.kafka import producer_config
from paykit.messages import Trace, as_kafka_headers
from payment_events.catalog import topic_for
from payment_events.codec import Codec
from payment_events.events import (
    CapturedLine,
    Event,
    OrderConfirmed,
    PaymentCaptured,
    PaymentInitiated,
    PaymentRefunded,
    PaymentSucceeded,
    RefundedLine,
    RefundLine,
    RefundRequested,
    SellerLine,
)
from payment_events.registry import registry_for

if TYPE_CHECKING:
    from pathlib import Path

    from payctl.ops.target import Target

# Seconds after the payment's start that each of its events is published.
STEPS = (0.0, 0.06, 0.12, 0.2, 2.0, 2.1)
AMOUNT = 2500
# The command as an operator runs it, and the verb alone: the difference is what importing
# every other verb of payctl.cli costs a new process.
NEW_PROCESS = {
    "payctl": ["-m", "payctl", "trace"],
    "verb alone": ["-c", "from payctl.ops.trace import trace; trace()"],
}
SHOWN = {
    "in process": "trace (in process)",
    "payctl": "payctl trace --json (a new process)",
    "verb alone": "the trace verb alone (a new process without payctl.cli's imports)",
}


def payment_events(payment_id: str, start: datetime) -> list[tuple[Event, datetime]]:
    """One payment's life: the happy path, a refund, and the relay publishing
    PaymentSucceeded a second time (as after a crash between publish and mark): 7 messages."""
    line = SellerLine(line_no=0, seller_id="seller_a", amount_minor=AMOUNT)
    order_id, auth_id, refund_id = (str(uuid.uuid4()) for _ in range(3))
    at = [start + timedelta(seconds=s) for s in STEPS]
    succeeded = PaymentSucceeded(
        payment_id=payment_id,
        currency="EUR",
        amount_minor=AMOUNT,
        customer_id="cus_bench",
        authorization_id=auth_id,
        lines=(line,),
        occurred_at=at[1],
    )
    events: list[tuple[Event, datetime]] = [
        (
            PaymentInitiated(
                payment_id=payment_id,
                currency="EUR",
                amount_minor=AMOUNT,
                customer_id="cus_bench",
                payment_method="pm_card_visa",
                lines=(line,),
                occurred_at=at[0],
            ),
            at[0],
        ),
        (succeeded, at[1]),
        (succeeded, at[1] + timedelta(seconds=0.01)),
        (
            OrderConfirmed(
                payment_id=payment_id,
                currency="EUR",
                amount_minor=AMOUNT,
                order_id=order_id,
                customer_id="cus_bench",
                authorization_id=auth_id,
                lines=(line,),
                sso_token="bench",
                redirect_url="https://shop.example/thanks",
                occurred_at=at[2],
            ),
            at[2],
        ),
        (
            PaymentCaptured(
                payment_id=payment_id,
                currency="EUR",
                amount_minor=AMOUNT,
                order_id=order_id,
                lines=(
                    CapturedLine(
                        capture_id="cap",
                        payment_order_id="po",
                        line_no=0,
                        seller_id="seller_a",
                        amount_minor=AMOUNT,
                    ),
                ),
                occurred_at=at[3],
            ),
            at[3],
        ),
        (
            RefundRequested(
                payment_id=payment_id,
                currency="EUR",
                amount_minor=AMOUNT,
                refund_id=refund_id,
                lines=(RefundLine(line_no=0, amount_minor=AMOUNT),),
                occurred_at=at[4],
            ),
            at[4],
        ),
        (
            PaymentRefunded(
                payment_id=payment_id,
                currency="EUR",
                amount_minor=AMOUNT,
                refund_id=refund_id,
                lines=(
                    RefundedLine(
                        payment_order_id="po",
                        line_no=0,
                        seller_id="seller_a",
                        amount_minor=AMOUNT,
                        provider_refund_id="re",
                    ),
                ),
                refunded_minor=AMOUNT,
                captured_minor=AMOUNT,
                occurred_at=at[5],
            ),
            at[5],
        ),
    ]
    return events


def fill_topics(
    target: Target, codec: Codec, payments: int, span: timedelta
) -> tuple[str, datetime, int]:
    """Writes `payments` payments' events spread evenly over `span` up to now; returns the id
    and start of the one in the middle, and how many messages were written."""
    producer = Producer(producer_config(target.bootstrap, "trace-bench") | {"linger.ms": 50})
    first = datetime.now(UTC) - span - timedelta(seconds=STEPS[-1])
    middle, middle_start = str(uuid.uuid4()), first + span * (payments // 2 / payments)
    written = 0
    for i in range(payments):
        payment_id = middle if i == payments // 2 else str(uuid.uuid4())
        events = payment_events(payment_id, first + span * (i / payments))
        causation: str | None = None
        for event, at in events:
            headers = Trace(payment_id, causation, "").headers(type(event).__name__)
            causation = event.event_id
            while True:
                try:
                    producer.produce(
                        topic_for(type(event)).name,
                        key=payment_id.encode(),
                        value=codec.encode(event),
                        headers=as_kafka_headers(headers),
                        timestamp=int(at.timestamp() * 1000),
                    )
                    break
                except BufferError:
                    producer.poll(0.1)  # the local queue is full: let deliveries drain it
            written += 1
        producer.poll(0)
    if producer.flush(120) != 0:
        raise OpsError("the broker did not take every message within 120 s")
    return middle, middle_start, written


def insert_bff_row(target: Target, payment_id: str, created: datetime) -> None:
    done = created + timedelta(seconds=STEPS[-1])
    line = {"line_no": 0, "seller_id": "seller_a", "amount_minor": AMOUNT}
    line |= {"capture_status": "CAPTURED", "captured_minor": AMOUNT}
    with target.connect("bff", read_only=False) as conn:
        conn.execute(
            "INSERT INTO payments (payment_id, client_id, customer_id, currency, amount_minor,"
            " lines, status, authorized_minor, captured_minor, refunded_minor, created_at,"
            " updated_at) VALUES (%s, 'bench', 'cus_bench', 'EUR', %s, %s, 'REFUNDED', %s, %s,"
            " %s, %s, %s)",
            (payment_id, AMOUNT, Jsonb([line]), AMOUNT, AMOUNT, AMOUNT, created, done),
        )


@click.command()
@click.option("--payments", type=click.IntRange(min=1), default=100_000, show_default=True)
@click.option(
    "--hours",
    type=click.FloatRange(min=0.01),
    default=1.5,
    show_default=True,
    help="The span the payments' timestamps are spread over, ending now.",
)
@click.option("--runs", type=click.IntRange(min=1), default=3, show_default=True)
@data_dir_option
@refusing
def main(payments: int, hours: float, runs: int, data_dir: Path) -> None:
    """Fill the topics, then time `payctl trace` on one payment RUNS times."""
    target = target_of(data_dir)
    admin = target.admin()
    busy = [g.service for g in GROUPS if live_members(admin, g)]
    if busy:
        raise OpsError(f"consumers are running ({', '.join(busy)}): they would handle the events")
    codec = Codec(registry_for(os.environ.get("SCHEMA_REGISTRY_URL")))
    span = timedelta(hours=hours)
    began = time.monotonic()
    payment_id, created, written = fill_topics(target, codec, payments, span)
    insert_bff_row(target, payment_id, created)
    click.echo(f"wrote {written} messages in {time.monotonic() - began:.0f}s; tracing {payment_id}")
    timings: dict[str, list[float]] = {name: [] for name in SHOWN}
    read = 0
    for _ in range(runs):
        began = time.monotonic()
        traced = trace_payment(target, codec, payment_id)
        timings["in process"].append(time.monotonic() - began)
        read = traced.read.messages_read
        args = [payment_id, "--json", "--data-dir", str(data_dir)]
        for name, command in NEW_PROCESS.items():
            began = time.monotonic()
            answer = subprocess.run([sys.executable, *command, *args], capture_output=True)
            timings[name].append(time.monotonic() - began)
            if answer.returncode != 0:
                raise OpsError(f"{name} failed: {answer.stderr.decode(errors='replace')}")
            if len(json.loads(answer.stdout)["events"]) != len(STEPS) + 1:
                raise OpsError(f"{name} did not find the payment's {len(STEPS) + 1} events")
    click.echo(f"events found: {len(traced.events)}, messages read: {read} of {written}")
    for name, times in timings.items():
        click.echo(f"{SHOWN[name]}: {_seconds(times)}")


def _seconds(times: list[float]) -> str:
    each = ", ".join(f"{t:.2f}" for t in times)
    return f"median {statistics.median(times):.2f}s ({each})"


if __name__ == "__main__":
    main()
