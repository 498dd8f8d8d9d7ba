"""Redelivery and restarts on the embedded stack: every side effect happens once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest
from e2e_support import (
    count_rows,
    find_event,
    new_payment,
    operations,
    pay,
    reproduce,
    wait_committed_past,
    wait_status,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.e2e


@pytest.fixture
def client(stack: Any) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=stack.bff_url, headers={"Authorization": f"Bearer {stack.token}"}, timeout=10
    ) as c:
        yield c


def provider_effects(stack: Any, payment_id: str) -> dict[str, int]:
    [auth] = operations(stack.psp_url, kind="authorization", reference=payment_id)
    return {
        "authorizations": 1,
        "captures": len(operations(stack.psp_url, kind="capture", authorization_id=auth["id"])),
        "voids": len(operations(stack.psp_url, kind="void", authorization_id=auth["id"])),
    }


def service_rows(stack: Any, payment_id: str) -> dict[str, int]:
    def count(db: str, table: str) -> int:
        return count_rows(
            stack.database_url(db),
            f"SELECT count(*) FROM {table} WHERE payment_id = %s",
            payment_id,
        )

    return {
        "authorizations": count("billing", "authorizations"),
        "orders": count("orders", "orders"),
        "payment_orders": count("capture", "payment_orders"),
    }


@pytest.mark.parametrize(
    ("topic", "group", "customer", "final"),
    [
        ("payment-initiated", "billing-consumer", None, "CAPTURED"),
        ("payment-succeeded", "order-consumer", None, "CAPTURED"),
        ("order-confirmed", "capture-consumer", None, "CAPTURED"),
        ("order-failed", "billing-consumer", "cus_blocked", "FAILED"),
    ],
)
def test_a_consumer_fed_the_same_event_twice_acts_once(
    stack: Any, client: httpx.Client, topic: str, group: str, customer: str | None, final: str
) -> None:
    payment_id = pay(client, new_payment(sellers=[700, 300], customer=customer))
    wait_status(client, payment_id, {final})
    if final == "FAILED":  # the void happens after the status turns FAILED
        from payctl.embedded import wait_for

        wait_for(lambda: provider_effects(stack, payment_id)["voids"] == 1, 30, "void")
    before = (provider_effects(stack, payment_id), service_rows(stack, payment_id))

    original = find_event(stack.bootstrap, topic, payment_id)
    copy = reproduce(stack.bootstrap, original)
    wait_committed_past(stack.bootstrap, group, copy)

    assert (provider_effects(stack, payment_id), service_rows(stack, payment_id)) == before
    assert before[0]["authorizations"] == 1
    assert before[0]["captures"] == (2 if final == "CAPTURED" else 0)
    assert before[0]["voids"] == (1 if final == "FAILED" else 0)


def test_a_consumer_killed_mid_stream_finishes_the_work_after_restart(
    stack: Any, client: httpx.Client
) -> None:
    first = [pay(client, new_payment(sellers=[100, 200, 300])) for _ in range(10)]
    wait_status(client, first[0], {"ORDER_CONFIRMED", "CAPTURED"})
    stack.kill_service("capture-consumer")  # SIGKILL, wherever it is
    rest = [pay(client, new_payment(sellers=[100, 200, 300])) for _ in range(10)]
    for payment_id in rest:
        assert wait_status(client, payment_id, {"ORDER_CONFIRMED"})["status"] == "ORDER_CONFIRMED"
    stack.start_service("capture-consumer")
    for payment_id in first + rest:
        wait_status(client, payment_id, {"CAPTURED"})
        assert provider_effects(stack, payment_id)["captures"] == 3
        assert service_rows(stack, payment_id)["payment_orders"] == 3
