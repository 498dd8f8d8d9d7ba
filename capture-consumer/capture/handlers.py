"""capture's handlers: one per event it consumes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from capture.domain.model import Payment
from paykit.provider import ProviderRejected
from payment_events.events import Event, OrderConfirmed

if TYPE_CHECKING:
    from collections.abc import Callable

    from capture.adapters.provider import PaymentProvider
    from capture.unit_of_work import CaptureUnitOfWork

log = structlog.get_logger()


def capture_payment(
    event: OrderConfirmed, uow: CaptureUnitOfWork, provider: PaymentProvider
) -> None:
    existing = uow.payments.get(event.payment_id)
    if existing is not None:
        # The inbox stops a redelivery; this stops the same payment confirmed under a new event id.
        log.info("payment_already_recorded", status=existing.status)
        return
    payment = Payment.split(event)
    uow.payments.add(payment)
    capture_seller_lines(payment, provider)
    uow.record(*payment.events)


def capture_seller_lines(payment: Payment, provider: PaymentProvider) -> None:
    """Captures every line still requested. `ProviderUnavailable` propagates: the whole message
    is retried, and each line's idempotency key turns the captures already done into replays."""
    for order in payment.lines_to_capture():
        try:
            capture = provider.capture(
                idempotency_key=order.idempotency_key_capture,
                authorization_id=payment.authorization_id,
                amount_minor=order.amount_minor,
                reference=order.payment_order_id,
            )
        except ProviderRejected as e:
            # Refused for good: the provider replays this refusal for this key, so the line fails
            # and the others are still captured.
            payment.fail_line(order.line_no, e.code, e.message)
            log.warning("seller_line_capture_failed", line_no=order.line_no, code=e.code)
        else:
            payment.capture_line(order.line_no, capture.id)
            log.info(
                "seller_line_captured",
                line_no=order.line_no,
                payment_order_id=order.payment_order_id,
                amount_minor=order.amount_minor,
                capture_id=capture.id,
            )
    log.info(
        "payment_capture_settled", status=payment.status, captured_minor=payment.captured_minor
    )


HANDLERS: dict[type[Event], Callable[..., None]] = {
    OrderConfirmed: capture_payment,
}
