"""orders' handlers: one per event it consumes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from orders.domain.model import ORDER_NOT_CREATED, Order, Refusal
from payment_events.events import Event, PaymentSucceeded

if TYPE_CHECKING:
    from collections.abc import Callable, Collection

    from orders.adapters.sso import SsoIssuer
    from orders.unit_of_work import OrdersUnitOfWork

log = structlog.get_logger()


def create_order(
    event: PaymentSucceeded,
    uow: OrdersUnitOfWork,
    sso: SsoIssuer,
    blocked_customers: Collection[str],
) -> None:
    existing = uow.orders.for_payment(event.payment_id)
    if existing is not None:
        # The inbox stops a redelivery; this stops the same payment announced under a new event id.
        log.info("order_already_exists", order_id=existing.order_id, status=existing.status)
        return
    order = Order.create(event)
    uow.orders.add(order)
    refusal = order.refusal(blocked_customers)
    if refusal is not None:
        order.refuse(refusal)
        log.info("order_refused", order_id=order.order_id, code=refusal.code)
    else:
        token = sso.issue(
            order_id=order.order_id, payment_id=order.payment_id, customer_id=order.customer_id
        )
        uow.sso_tokens.add(token)
        order.confirm(token.token, token.redirect_url)
        log.info("order_confirmed", order_id=order.order_id, jti=token.jti)
    uow.record(*order.events)


HANDLERS: dict[type[Event], Callable[..., None]] = {
    PaymentSucceeded: create_order,
}


def fail_order(
    event: PaymentSucceeded,
    uow: OrdersUnitOfWork,
    error: BaseException,
    sso: SsoIssuer,
    blocked_customers: Collection[str],
) -> None:
    """The order could not be made however often it was tried: refuse it, so billing voids the
    authorization instead of holding the shopper's money for an order that will never exist."""
    if uow.orders.for_payment(event.payment_id) is not None:
        return
    order = Order.create(event)
    uow.orders.add(order)
    order.refuse(Refusal(ORDER_NOT_CREATED, f"the order could not be created: {error}"[:500]))
    log.error("order_given_up", order_id=order.order_id)
    uow.record(*order.events)


GIVE_UP: dict[type[Event], Callable[..., None]] = {
    PaymentSucceeded: fail_order,
}
