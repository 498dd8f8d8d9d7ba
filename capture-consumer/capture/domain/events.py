"""The events a payment records, built from its state: what subscribers learn of captures and
refunds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from payment_events.events import (
    CapturedLine,
    CaptureFailed,
    PaymentCaptured,
    PaymentRefunded,
    RefundedLine,
    RefundFailed,
)

if TYPE_CHECKING:
    from capture.domain.errors import RefundRefused
    from capture.domain.model import Payment
    from capture.domain.payment_order import PaymentOrder
    from capture.domain.refund import Refund, SellerRefund
    from payment_events.events import RefundRequested


def capture_failed(payment: Payment, order: PaymentOrder) -> CaptureFailed:
    return CaptureFailed(
        payment_id=payment.payment_id,
        payment_order_id=order.payment_order_id,
        line_no=order.line_no,
        seller_id=order.seller_id,
        currency=payment.currency,
        amount_minor=order.amount_minor,
        code=order.failure_code or "capture_failed",
        reason=order.failure_reason or "",
    )


def payment_captured(
    payment: Payment, captured: list[PaymentOrder], *, partial: bool
) -> PaymentCaptured:
    """`partial`: some lines failed; only the captured ones are listed."""
    lines = []
    for o in captured:
        assert o.capture_id is not None  # every CAPTURED payment order has one
        lines.append(
            CapturedLine(
                payment_order_id=o.payment_order_id,
                line_no=o.line_no,
                seller_id=o.seller_id,
                amount_minor=o.amount_minor,
                capture_id=o.capture_id,
            )
        )
    return PaymentCaptured(
        payment_id=payment.payment_id,
        order_id=payment.order_id,
        currency=payment.currency,
        amount_minor=payment.captured_minor,
        lines=tuple(lines),
        partial=partial,
    )


def payment_refunded(
    payment: Payment, refund: Refund, refunded: list[SellerRefund]
) -> PaymentRefunded:
    """Lists the lines that went back, with the payment's running totals."""
    lines = []
    for line in refunded:
        assert line.provider_refund_id is not None  # every REFUNDED seller refund has one
        lines.append(
            RefundedLine(
                payment_order_id=line.payment_order_id,
                line_no=line.line_no,
                seller_id=line.seller_id,
                amount_minor=line.amount_minor,
                provider_refund_id=line.provider_refund_id,
            )
        )
    return PaymentRefunded(
        payment_id=payment.payment_id,
        refund_id=refund.refund_id,
        currency=refund.currency,
        amount_minor=sum(line.amount_minor for line in refunded),
        lines=tuple(lines),
        refunded_minor=payment.refunded_minor,
        captured_minor=payment.captured_minor,
    )


def refund_failed(refund: Refund) -> RefundFailed:
    return RefundFailed(
        payment_id=refund.payment_id,
        refund_id=refund.refund_id,
        currency=refund.currency,
        amount_minor=refund.amount_minor,
        code=refund.failure_code or "refund_failed",
        reason=refund.failure_reason or "",
    )


def refund_refused(requested: RefundRequested, error: RefundRefused) -> RefundFailed:
    """A refund refused before it could be recorded (no payment to record it on)."""
    return RefundFailed(
        payment_id=requested.payment_id,
        refund_id=requested.refund_id,
        currency=requested.currency,
        amount_minor=requested.amount_minor,
        code=error.code,
        reason=str(error),
    )
