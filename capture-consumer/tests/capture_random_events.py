"""Events with fresh ids, so tests never collide on a shared database or topic."""

from __future__ import annotations

import uuid

from payment_events.events import OrderConfirmed, SellerLine


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
