"""orders' handler through the real unit of work, migrations and Postgres."""

from __future__ import annotations

import dataclasses
import uuid
from typing import TYPE_CHECKING, Any

import jwt
import psycopg
import pytest
from orders_random_events import PUBLIC_KEY, payment_succeeded
from sqlalchemy import select

from orders.adapters.orm import orders, sso_tokens
from orders.domain.model import Order
from orders.handlers import ORDERS
from paykit.db import outbox
from payment_events.codec import Codec
from payment_events.events import Event, OrderConfirmed, OrderFailed
from payment_events.registry import FileRegistry

if TYPE_CHECKING:
    from orders.bootstrap import Orders

pytestmark = pytest.mark.integration

codec = Codec(FileRegistry())


def deliver(service: Orders, event: Event) -> bool:
    """As the consumer loop does it: claim, handle, commit; False for a duplicate."""
    with service.unit_of_work() as uow:
        if not uow.claim(event.event_id, "payment-succeeded", 0, 0):
            return False
        service.handlers[type(event)](event, uow)
        uow.commit()
    return True


def published(service: Orders) -> list[Event]:
    with service.wiring.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.value).order_by(outbox.c.id)).scalars().all()
    return [codec.decode(v) for v in rows]


def orders_of(service: Orders, payment_id: str) -> list[Any]:
    with service.wiring.engine.connect() as conn:
        return list(conn.execute(select(orders).where(orders.c.payment_id == payment_id)).all())


def tokens(service: Orders) -> list[Any]:
    with service.wiring.engine.connect() as conn:
        return list(conn.execute(select(sso_tokens)).all())


def test_an_authorized_payment_becomes_one_confirmed_order_announced_with_its_token(
    service: Orders,
) -> None:
    event = payment_succeeded()
    assert deliver(service, event)
    [order] = orders_of(service, event.payment_id)
    assert order.status == "CONFIRMED"
    assert (order.customer_id, order.currency, order.amount_minor) == ("cus_1", "EUR", 1500)
    assert order.authorization_id == event.authorization_id
    assert order.lines == event.lines
    [confirmed] = published(service)
    assert isinstance(confirmed, OrderConfirmed)
    assert (confirmed.order_id, confirmed.payment_id) == (order.order_id, event.payment_id)
    assert confirmed.redirect_url.endswith(f"/sso/callback?order_id={order.order_id}")
    claims = jwt.decode(confirmed.sso_token, PUBLIC_KEY, algorithms=["EdDSA"], audience="saas-app")
    assert (claims["sub"], claims["order_id"]) == ("cus_1", order.order_id)
    [token] = tokens(service)
    assert (token.jti, token.order_id, token.customer_id) == (
        claims["jti"],
        order.order_id,
        "cus_1",
    )
    assert int(token.expires_at.timestamp()) == claims["exp"]


def test_a_blocked_customer_gets_a_refused_order_and_order_failed(service: Orders) -> None:
    event = payment_succeeded("cus_blocked")
    deliver(service, event)
    [order] = orders_of(service, event.payment_id)
    assert order.status == "REFUSED"
    assert order.refusal_code == "customer_blocked"
    [failed] = published(service)
    assert isinstance(failed, OrderFailed)
    assert failed.order_id == order.order_id
    assert (failed.code, failed.reason) == ("customer_blocked", "customer cus_blocked is blocked")
    assert tokens(service) == []


def test_a_redelivered_event_is_stopped_by_the_inbox(service: Orders) -> None:
    event = payment_succeeded()
    assert deliver(service, event)
    assert not deliver(service, event)
    assert len(orders_of(service, event.payment_id)) == 1
    assert len(published(service)) == 1


def test_the_same_payment_under_two_event_ids_gets_one_order(service: Orders) -> None:
    event = payment_succeeded()
    again = dataclasses.replace(event, event_id=str(uuid.uuid4()))
    assert deliver(service, event)
    assert deliver(service, again)  # a new event id passes the inbox; the order stops it
    assert len(orders_of(service, event.payment_id)) == 1
    assert len(published(service)) == 1
    assert len(tokens(service)) == 1


def test_the_database_refuses_a_second_order_for_a_payment(service: Orders) -> None:
    event = payment_succeeded()
    with service.unit_of_work() as uow:
        ORDERS.save(uow.connection(), [Order.create(event)])
        uow.commit()
    second = Order.create(event)
    second.order_id = str(uuid.uuid4())  # a payment's order id is derived; force another
    with (
        service.unit_of_work() as uow,
        pytest.raises(psycopg.errors.UniqueViolation, match="orders_one_per"),
    ):
        ORDERS.save(uow.connection(), [second])


def test_an_order_made_meanwhile_by_another_instance_fails_the_one_made_here(
    service: Orders,
) -> None:
    event = payment_succeeded()
    mine = Order.create(event)  # made while the other instance's order was not committed yet
    with service.unit_of_work() as uow:
        ORDERS.save(uow.connection(), [Order.create(event)])
        uow.commit()
    with (
        service.unit_of_work() as uow,
        pytest.raises(psycopg.errors.UniqueViolation, match="orders_pkey"),
    ):
        ORDERS.save(uow.connection(), [mine])


def test_an_order_that_cannot_be_made_is_refused_when_retries_are_used_up(
    service: Orders,
) -> None:
    event = payment_succeeded()
    with service.unit_of_work() as uow:
        service.give_up[type(event)](event, uow, RuntimeError("a bug in the order rules"))
        uow.commit()
    [order] = orders_of(service, event.payment_id)
    assert order.status == "REFUSED"
    [failed] = published(service)
    assert isinstance(failed, OrderFailed)  # billing voids the authorization on it
    assert failed.code == "order_not_created"
    assert tokens(service) == []


def test_giving_up_on_a_payment_whose_order_exists_changes_nothing(service: Orders) -> None:
    event = payment_succeeded()
    deliver(service, event)
    with service.unit_of_work() as uow:
        service.give_up[type(event)](event, uow, RuntimeError("late"))
        uow.commit()
    [order] = orders_of(service, event.payment_id)
    assert order.status == "CONFIRMED"
    assert len(published(service)) == 1
