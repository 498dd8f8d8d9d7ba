"""The order aggregate, in memory."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from orders_random_events import payment_succeeded

from orders.domain.errors import InvalidTransition
from orders.domain.model import Order, OrderStatus, Refusal, SsoToken
from payment_events.events import OrderConfirmed, OrderFailed

BLOCKED = frozenset({"cus_blocked"})


def sso_token(order: Order, token: str = "t", redirect_url: str = "u") -> SsoToken:
    now = datetime.now(UTC)
    return SsoToken(
        token=token,
        jti=str(uuid.uuid4()),
        order_id=order.order_id,
        customer_id=order.customer_id,
        issued_at=now,
        expires_at=now + timedelta(minutes=5),
        redirect_url=redirect_url,
    )


def test_a_new_order_is_unconfirmed_and_carries_the_payment() -> None:
    event = payment_succeeded()
    order = Order.create(event)
    assert order.status is OrderStatus.CREATED
    assert (order.payment_id, order.customer_id) == (event.payment_id, event.customer_id)
    assert (order.currency, order.amount_minor) == ("EUR", 1500)
    assert order.authorization_id == event.authorization_id
    assert order.lines == event.lines
    assert order.events == []


def test_confirming_records_order_confirmed_with_the_token() -> None:
    order = Order.create(payment_succeeded())
    token = sso_token(order, "signed.jwt.token", "https://saas.example/sso/callback?order_id=o1")
    order.confirm(token)
    assert order.status is OrderStatus.CONFIRMED
    assert order.issued_token == token  # for the store to record it
    [confirmed] = order.events
    assert isinstance(confirmed, OrderConfirmed)
    assert confirmed.sso_token == "signed.jwt.token"
    assert confirmed.redirect_url == "https://saas.example/sso/callback?order_id=o1"
    assert (confirmed.order_id, confirmed.payment_id) == (order.order_id, order.payment_id)
    assert confirmed.lines == order.lines
    assert confirmed.authorization_id == order.authorization_id


def test_a_blocked_customer_is_refused_with_order_failed() -> None:
    order = Order.create(payment_succeeded("cus_blocked"))
    refusal = order.refusal(BLOCKED)
    assert refusal == Refusal("customer_blocked", "customer cus_blocked is blocked")
    order.refuse(refusal)
    assert order.status is OrderStatus.REFUSED
    [failed] = order.events
    assert isinstance(failed, OrderFailed)
    assert (failed.order_id, failed.payment_id) == (order.order_id, order.payment_id)
    assert (failed.code, failed.reason) == ("customer_blocked", "customer cus_blocked is blocked")


def test_a_customer_nobody_blocked_breaks_no_rule() -> None:
    assert Order.create(payment_succeeded("cus_1")).refusal(BLOCKED) is None


def test_a_settled_order_cannot_move_again() -> None:
    confirmed = Order.create(payment_succeeded())
    confirmed.confirm(sso_token(confirmed))
    with pytest.raises(InvalidTransition):
        confirmed.refuse(Refusal("customer_blocked", "late"))
    with pytest.raises(InvalidTransition):
        confirmed.confirm(sso_token(confirmed, "t2"))

    refused = Order.create(payment_succeeded("cus_blocked"))
    refused.refuse(Refusal("customer_blocked", "blocked"))
    with pytest.raises(InvalidTransition):
        refused.confirm(sso_token(refused))
    assert len(confirmed.events) == len(refused.events) == 1


def test_an_orders_id_follows_from_its_payment() -> None:
    # Created again for the same payment (a replay after a restore), it is the same order.
    event = payment_succeeded()
    assert Order.create(event).order_id == Order.create(event).order_id
    assert Order.create(event).order_id != Order.create(payment_succeeded()).order_id
