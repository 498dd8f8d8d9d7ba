"""orders' handlers: one per event it consumes, as functions of the event and the payment's order
(`paykit.states`); the runtime loads the order locked and saves what the handler returns."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from orders.adapters.order_store import OrderStore
from orders.domain.model import ORDER_NOT_CREATED, Order, Refusal
from payment_events.events import Event, PaymentSucceeded

if TYPE_CHECKING:
    from collections.abc import Callable, Collection

    from orders.adapters.sso import SsoIssuer
    from paykit.unit_of_work import UnitOfWork

log = structlog.get_logger()
ORDERS = OrderStore()


def create_order(
    event: PaymentSucceeded,
    order: Order | None,
    sso: SsoIssuer,
    blocked_customers: Collection[str],
) -> Order:
    if order is not None:
        # The inbox stops a redelivery; this stops the same payment announced under a new event id.
        log.info("order_already_exists", order_id=order.order_id, status=order.status)
        return order
    order = Order.create(event)
    refusal = order.refusal(blocked_customers)
    if refusal is not None:
        order.refuse(refusal)
        log.info("order_refused", order_id=order.order_id, code=refusal.code)
    else:
        token = sso.issue(
            order_id=order.order_id, payment_id=order.payment_id, customer_id=order.customer_id
        )
        order.confirm(token)
        log.debug("order_confirmed", order_id=order.order_id, jti=token.jti)
    return order


HANDLERS: dict[type[Event], Callable[..., Order]] = {
    PaymentSucceeded: create_order,
}


def fail_order(
    event: PaymentSucceeded,
    uow: UnitOfWork,
    error: BaseException,
    sso: SsoIssuer,
    blocked_customers: Collection[str],
) -> None:
    """The order could not be made however often it was tried: refuse it, so billing voids the
    authorization instead of holding the shopper's money for an order that will never exist."""
    conn = uow.connection()
    if ORDERS.load(conn, [event.payment_id]):
        return
    order = Order.create(event)
    order.refuse(Refusal(ORDER_NOT_CREATED, f"the order could not be created: {error}"[:500]))
    ORDERS.save(conn, [order])
    log.error("order_given_up", order_id=order.order_id)
    uow.record(*order.events)


GIVE_UP: dict[type[Event], Callable[..., None]] = {
    PaymentSucceeded: fail_order,
}
