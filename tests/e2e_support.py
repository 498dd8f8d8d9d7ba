"""What end-to-end tests do to the running stack: pay, poll, read the provider's ledger and the
services' tables, re-produce events from a topic."""

from __future__ import annotations

import contextlib
import uuid
from typing import TYPE_CHECKING, Any

import httpx
import psycopg
from confluent_kafka import Consumer, Producer, TopicPartition

from payctl.embedded import wait_for
from payctl.rest import settled
from paykit.kafka import producer_config, take_available
from payment_events.codec import Codec
from payment_events.registry import FileRegistry

if TYPE_CHECKING:
    from collections.abc import Iterator

    from payctl.load import LoadResult
    from payctl.stack import Stack

CODEC = Codec(FileRegistry())
TERMINAL = {"CAPTURED", "DECLINED", "FAILED", "REFUNDED"}


def new_payment(
    *,
    sellers: list[int] | None = None,
    method: str = "pm_card_visa",
    customer: str | None = None,
) -> dict[str, Any]:
    amounts = sellers or [1000]
    return {
        "customer_id": customer or f"cus_{uuid.uuid4().hex[:8]}",
        "currency": "EUR",
        "payment_method": method,
        "lines": [
            {"seller_id": f"seller_{i}_{uuid.uuid4().hex[:6]}", "amount_minor": a}
            for i, a in enumerate(amounts)
        ],
        "return_url": "https://shop.example/thanks",
    }


@contextlib.contextmanager
def payments_client(stack: Stack) -> Iterator[httpx.Client]:
    """An HTTP client of the stack's BFF, with a bearer token it accepts."""
    with httpx.Client(
        base_url=stack.bff_url,
        headers={"Authorization": f"Bearer {stack.token}"},
        timeout=10,
        trust_env=False,
    ) as client:
        yield client


def health_status(url: str) -> int | None:
    """The status `/healthz` answers at `url`; None when nothing answers."""
    try:
        return httpx.get(url, timeout=5, trust_env=False).status_code
    except httpx.HTTPError:
        return None


def handled_messages(health_url: str) -> float:
    """How many messages the process behind `health_url` (its `/healthz`) has handled, from its
    Prometheus counter."""
    metrics = httpx.get(health_url.replace("/healthz", "/metrics"), timeout=5, trust_env=False)
    metrics.raise_for_status()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.text.splitlines()
        if line.startswith("payments_messages_total{") and 'outcome="handled"' in line
    )


def pay(client: httpx.Client, body: dict[str, Any], key: str | None = None) -> str:
    response = client.post(
        "/v1/payments", json=body, headers={"Idempotency-Key": key or uuid.uuid4().hex}
    )
    assert response.status_code == 202, response.text
    return str(response.json()["payment_id"])


def wait_status(
    client: httpx.Client, payment_id: str, wanted: set[str], timeout: float = 60
) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def reached() -> bool:
        seen.update(client.get(f"/v1/payments/{payment_id}").json())
        return seen.get("status") in wanted

    try:
        wait_for(reached, timeout, f"payment {payment_id} in {wanted}", interval=0.1)
    except TimeoutError as e:
        raise AssertionError(f"{e}; last seen: {seen}") from e
    return seen


def wait_for_history(
    client: httpx.Client, payment_id: str, statuses: set[str], timeout: float = 60
) -> dict[str, Any]:
    """The payment once its history holds every one of `statuses`."""
    seen: dict[str, Any] = {}

    def complete() -> bool:
        seen.update(client.get(f"/v1/payments/{payment_id}").json())
        return statuses <= {h["status"] for h in seen.get("history", [])}

    try:
        wait_for(complete, timeout, f"payment {payment_id} with {statuses} in its history")
    except TimeoutError as e:
        raise AssertionError(f"{e}; last seen: {seen}") from e
    return seen


def operations(psp_url: str, **filters: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{psp_url}/v1/operations", params=filters, timeout=10)
    response.raise_for_status()
    ops: list[dict[str, Any]] = response.json()["operations"]
    return ops


def count_rows(database_url: str, sql: str, *params: object) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(sql, params).fetchone()
        assert row is not None
        return int(row[0])


def find_event(bootstrap: str, topic: str, payment_id: str, timeout: float = 30) -> Any:
    """The message on `topic` keyed by `payment_id` (the first one)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"e2e-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    found: list[Any] = []

    def seen() -> bool:
        for msg in take_available(consumer, 500, 0.5):
            if msg.error() is None and msg.key() == payment_id.encode():
                found.append(msg)
        return bool(found)

    try:
        wait_for(seen, timeout, f"{topic} message for {payment_id}", interval=0)
        return found[0]
    finally:
        consumer.close()


def reproduce(bootstrap: str, msg: Any) -> TopicPartition:
    """Publishes the same bytes and headers again; returns where the copy landed."""
    landed: list[TopicPartition] = []
    producer = Producer(producer_config(bootstrap, "e2e-replay"))
    producer.produce(
        msg.topic(),
        key=msg.key(),
        value=msg.value(),
        headers=msg.headers(),
        on_delivery=lambda err, m: (
            landed.append(TopicPartition(m.topic(), m.partition(), m.offset()))
            if err is None
            else None
        ),
    )
    assert producer.flush(10) == 0
    assert landed
    return landed[0]


def wait_committed_past(bootstrap: str, group: str, where: TopicPartition) -> None:
    """Waits until `group` has committed beyond `where`: the copy was handled (or skipped)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:

        def past() -> bool:
            [tp] = consumer.committed([TopicPartition(where.topic, where.partition)], timeout=5)
            return bool(tp.offset > where.offset)

        wait_for(
            past, 60, f"{group} committed past {where.topic}[{where.partition}]@{where.offset}"
        )
    finally:
        consumer.close()


def wait_progress(stack: Stack, result: LoadResult, more: int) -> None:
    """Waits until `more` further payments of a load have settled: the pipeline is moving."""

    def count() -> int:
        return settled(stack.database_url("bff"), [a.payment_id for a in list(result.accepted)])

    target = count() + more
    wait_for(lambda: count() >= target, 60, f"{more} more payments settled")
