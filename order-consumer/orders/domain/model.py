"""The order aggregate: what the shopper bought with one authorized payment.

CREATED -> CONFIRMED, or CREATED -> REFUSED when one of this service's rules refuses it. Each
transition records the event other services react to; the unit of work writes them to the
outbox with the state change.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from orders.domain.errors import InvalidTransition
from payment_events.events import (
    Event,
    OrderConfirmed,
    OrderFailed,
    PaymentSucceeded,
    SellerLine,
)

if TYPE_CHECKING:
    from collections.abc import Collection
    from datetime import datetime

CUSTOMER_BLOCKED = "customer_blocked"
ORDER_NOT_CREATED = "order_not_created"


class OrderStatus(StrEnum):
    CREATED = "CREATED"
    CONFIRMED = "CONFIRMED"
    REFUSED = "REFUSED"


ALLOWED: dict[OrderStatus, set[OrderStatus]] = {
    OrderStatus.CREATED: {OrderStatus.CONFIRMED, OrderStatus.REFUSED},
    OrderStatus.CONFIRMED: set(),
    OrderStatus.REFUSED: set(),
}


@dataclass(frozen=True)
class Refusal:
    """Why a rule of this service refuses an order; `code` is stable, `reason` is for people."""

    code: str
    reason: str


# A payment has at most one order, so its id follows from the payment's: an order created again
# for the same payment (a replay after this service's database was restored) is the same order.
ORDER_NAMESPACE = uuid.UUID("8d3c5b2a-1e4f-5a6b-9c7d-0e1f2a3b4c5d")


def order_id_for(payment_id: str) -> str:
    return str(uuid.uuid5(ORDER_NAMESPACE, payment_id))


@dataclass(frozen=True)
class SsoToken:
    """A sign-in into the SaaS app, issued for a confirmed order."""

    token: str  # the signed JWT: a bearer credential, published once and never stored
    jti: str
    order_id: str
    customer_id: str
    issued_at: datetime
    expires_at: datetime
    redirect_url: str


@dataclass(eq=False)
class Order:
    payment_id: str
    customer_id: str
    currency: str
    amount_minor: int
    authorization_id: str
    lines: tuple[SellerLine, ...]
    order_id: str
    status: OrderStatus = OrderStatus.CREATED
    refusal_code: str | None = None
    refusal_reason: str | None = None
    # The token issued when the order was confirmed, until it is recorded (by its jti only).
    issued_token: SsoToken | None = None
    # Made here and not stored yet: storing it must create it, never find one already there.
    new: bool = True
    events: list[Event] = field(default_factory=list)

    @classmethod
    def create(cls, succeeded: PaymentSucceeded) -> Order:
        return cls(
            payment_id=succeeded.payment_id,
            order_id=order_id_for(succeeded.payment_id),
            customer_id=succeeded.customer_id,
            currency=succeeded.currency,
            amount_minor=succeeded.amount_minor,
            authorization_id=succeeded.authorization_id,
            lines=succeeded.lines,
        )

    def refusal(self, blocked_customers: Collection[str]) -> Refusal | None:
        """The first of this service's rules the order breaks; None when it may be confirmed."""
        if self.customer_id in blocked_customers:
            return Refusal(CUSTOMER_BLOCKED, f"customer {self.customer_id} is blocked")
        return None

    def confirm(self, token: SsoToken) -> None:
        self._move(OrderStatus.CONFIRMED)
        self.issued_token = token
        self.events.append(
            OrderConfirmed(
                payment_id=self.payment_id,
                order_id=self.order_id,
                customer_id=self.customer_id,
                currency=self.currency,
                amount_minor=self.amount_minor,
                authorization_id=self.authorization_id,
                lines=self.lines,
                sso_token=token.token,
                redirect_url=token.redirect_url,
            )
        )

    def refuse(self, refusal: Refusal) -> None:
        self._move(OrderStatus.REFUSED)
        self.refusal_code, self.refusal_reason = refusal.code, refusal.reason
        self.events.append(
            OrderFailed(
                payment_id=self.payment_id,
                order_id=self.order_id,
                code=refusal.code,
                reason=refusal.reason,
            )
        )

    def _move(self, to: OrderStatus) -> None:
        if to not in ALLOWED[self.status]:
            raise InvalidTransition(f"order {self.order_id}: {self.status} -> {to}")
        self.status = to
