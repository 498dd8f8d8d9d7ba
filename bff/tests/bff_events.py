"""Downstream events for one payment, with defaults, so each test states only what it is about.
Each happens `seconds` after the moment it is made, so tests about arrival order set the order
in which things happened, whatever order they deliver them in."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from bff.domain.payment import Payment, accept_payment
from payment_events.events import (
    CapturedLine,
    CaptureFailed,
    OrderConfirmed,
    OrderFailed,
    PaymentCaptured,
    PaymentFailed,
    PaymentRefunded,
    PaymentSucceeded,
    PaymentVoided,
    RefundedLine,
    RefundFailed,
    SellerLine,
    now,
)

LINES = (SellerLine(line_no=0, seller_id="seller_a", amount_minor=1500),)


def accepted(amounts: list[tuple[str, int]] | None = None) -> Payment:
    """A payment just accepted, as the read model keeps it: one line per (seller, amount)."""
    return Payment.of(
        accept_payment(
            payment_id=str(uuid.uuid4()),
            client_id="client_a",
            customer_id="cus_1",
            currency="EUR",
            payment_method="pm_card_visa",
            amounts=amounts or [("seller_a", 1500)],
            return_url=None,
        )
    )


def at(seconds: float) -> datetime:
    return now() + timedelta(seconds=seconds)


def succeeded(payment_id: str, seconds: float = 1, amount: int = 1500) -> PaymentSucceeded:
    return PaymentSucceeded(
        payment_id=payment_id,
        occurred_at=at(seconds),
        customer_id="cus_1",
        currency="EUR",
        amount_minor=amount,
        authorization_id="auth_1",
        lines=LINES,
    )


def declined(payment_id: str, seconds: float = 1) -> PaymentFailed:
    return PaymentFailed(
        payment_id=payment_id,
        occurred_at=at(seconds),
        code="card_declined",
        reason="Your card was declined.",
    )


def confirmed(payment_id: str, seconds: float = 2) -> OrderConfirmed:
    return OrderConfirmed(
        payment_id=payment_id,
        occurred_at=at(seconds),
        order_id="ord_1",
        customer_id="cus_1",
        currency="EUR",
        amount_minor=1500,
        authorization_id="auth_1",
        lines=LINES,
        sso_token="sso.token.value",
        redirect_url="https://saas.example/sso?token=sso.token.value",
    )


def order_failed(payment_id: str, seconds: float = 2) -> OrderFailed:
    return OrderFailed(
        payment_id=payment_id,
        occurred_at=at(seconds),
        code="customer_blocked",
        reason="customer cus_1 is blocked",
    )


def voided(payment_id: str, seconds: float = 3) -> PaymentVoided:
    return PaymentVoided(
        payment_id=payment_id,
        occurred_at=at(seconds),
        authorization_id="auth_1",
        currency="EUR",
        amount_minor=1500,
        reason="customer cus_1 is blocked",
    )


def captured(payment_id: str, seconds: float = 3, amount: int = 1500) -> PaymentCaptured:
    return PaymentCaptured(
        payment_id=payment_id,
        occurred_at=at(seconds),
        order_id="ord_1",
        currency="EUR",
        amount_minor=amount,
        lines=(
            CapturedLine(
                payment_order_id=f"po_{uuid.uuid4().hex[:8]}",
                line_no=0,
                seller_id="seller_a",
                amount_minor=amount,
                capture_id="cap_1",
            ),
        ),
    )


def captured_lines(
    payment_id: str, amounts: dict[int, int], *, partial: bool = False, seconds: float = 3
) -> PaymentCaptured:
    """The capture of the given lines (line_no: captured amount)."""
    return PaymentCaptured(
        payment_id=payment_id,
        occurred_at=at(seconds),
        order_id="ord_1",
        currency="EUR",
        amount_minor=sum(amounts.values()),
        lines=tuple(
            CapturedLine(
                payment_order_id=f"po_{line_no}",
                line_no=line_no,
                seller_id=f"seller_{line_no}",
                amount_minor=amount,
                capture_id=f"cap_{line_no}",
            )
            for line_no, amount in amounts.items()
        ),
        partial=partial,
    )


def capture_failed(
    payment_id: str, seconds: float = 3, line_no: int = 0, amount: int = 1500
) -> CaptureFailed:
    return CaptureFailed(
        payment_id=payment_id,
        occurred_at=at(seconds),
        payment_order_id=f"po_{line_no}",
        line_no=line_no,
        seller_id="seller_a",
        currency="EUR",
        amount_minor=amount,
        code="capture_declined",
        reason="the provider refused the capture",
    )


def refunded(
    payment_id: str,
    refund_id: str,
    amounts: dict[int, int],
    *,
    refunded_minor: int,
    captured_minor: int,
    seconds: float = 5,
) -> PaymentRefunded:
    """Refund `refund_id` paid back on the given lines (line_no: amount)."""
    return PaymentRefunded(
        payment_id=payment_id,
        occurred_at=at(seconds),
        refund_id=refund_id,
        currency="EUR",
        amount_minor=sum(amounts.values()),
        lines=tuple(
            RefundedLine(
                payment_order_id=f"po_{line_no}",
                line_no=line_no,
                seller_id=f"seller_{line_no}",
                amount_minor=amount,
                provider_refund_id=f"re_{uuid.uuid4().hex[:8]}",
            )
            for line_no, amount in amounts.items()
        ),
        refunded_minor=refunded_minor,
        captured_minor=captured_minor,
    )


def refund_failed(payment_id: str, refund_id: str, amount: int, seconds: float = 5) -> RefundFailed:
    return RefundFailed(
        payment_id=payment_id,
        occurred_at=at(seconds),
        refund_id=refund_id,
        currency="EUR",
        amount_minor=amount,
        code="refund_declined",
        reason="the provider refused the refund",
    )
