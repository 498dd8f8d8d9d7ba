"""Events with fresh ids, so tests never collide on a shared database or topic."""

from __future__ import annotations

import uuid

from payment_events.events import OrderConfirmed, RefundLine, RefundRequested, SellerLine


def order_confirmed(
    amounts: tuple[int, ...] = (1000, 500),
    authorized_minor: int | None = None,
    authorization_id: str | None = None,
    payment_id: str | None = None,
) -> OrderConfirmed:
    return OrderConfirmed(
        payment_id=payment_id or str(uuid.uuid4()),
        order_id=str(uuid.uuid4()),
        customer_id="cus_1",
        currency="EUR",
        amount_minor=sum(amounts) if authorized_minor is None else authorized_minor,
        authorization_id=authorization_id or f"auth_{uuid.uuid4().hex[:12]}",
        lines=tuple(
            SellerLine(line_no=i, seller_id=f"seller_{i}", amount_minor=amount)
            for i, amount in enumerate(amounts)
        ),
        sso_token="header.payload.signature",
        redirect_url="https://saas.example/sso/callback",
    )


def capture_key(event: OrderConfirmed, line_no: int) -> str:
    return f"{event.payment_id}:capture:{line_no}"


def refund_requested(
    confirmed: OrderConfirmed, amounts: dict[int, int], refund_id: str | None = None
) -> RefundRequested:
    """A refund of `amounts` (line number -> amount) of a confirmed payment."""
    return RefundRequested(
        payment_id=confirmed.payment_id,
        refund_id=refund_id or str(uuid.uuid4()),
        currency=confirmed.currency,
        amount_minor=sum(amounts.values()),
        lines=tuple(RefundLine(line_no=n, amount_minor=a) for n, a in amounts.items()),
        reason="requested_by_customer",
    )


def refund_key(refund: RefundRequested, line_no: int) -> str:
    return f"{refund.payment_id}:refund:{refund.refund_id}:{line_no}"
