"""The projector's handlers: one per downstream event, each moving one payment's read model.
Each takes the payment's row lock, so events of one payment from several topics, and refunds the
API asks for meanwhile, take turns."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from bff.domain.errors import UnknownPayment
from payment_events.events import (
    CaptureFailed,
    Event,
    OrderConfirmed,
    OrderFailed,
    PaymentCaptured,
    PaymentFailed,
    PaymentRefunded,
    PaymentSucceeded,
    PaymentVoided,
    RefundFailed,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from bff.domain.payment import Payment
    from bff.unit_of_work import BffUnitOfWork

log = structlog.get_logger()


def _payment(event: Event, uow: BffUnitOfWork) -> Payment:
    payment = uow.payments.get_for_update(event.payment_id)
    if payment is None:
        raise UnknownPayment(
            f"{type(event).__name__} for payment {event.payment_id}, which the BFF never accepted"
        )
    return payment


def _projected(payment: Payment, event: Event) -> None:
    log.info("status_projected", event_type=type(event).__name__, status=payment.status)


def record_authorization(event: PaymentSucceeded, uow: BffUnitOfWork) -> None:
    payment = _payment(event, uow)
    payment.record_authorization(event)
    _projected(payment, event)


def record_decline(event: PaymentFailed, uow: BffUnitOfWork) -> None:
    payment = _payment(event, uow)
    payment.record_decline(event)
    _projected(payment, event)


def record_order_confirmation(event: OrderConfirmed, uow: BffUnitOfWork) -> None:
    payment = _payment(event, uow)
    payment.record_order_confirmation(event)
    _projected(payment, event)


def record_order_failure(event: OrderFailed, uow: BffUnitOfWork) -> None:
    payment = _payment(event, uow)
    payment.record_order_failure(event)
    _projected(payment, event)


def record_void(event: PaymentVoided, uow: BffUnitOfWork) -> None:
    payment = _payment(event, uow)
    payment.record_void(event)
    _projected(payment, event)


def record_capture(event: PaymentCaptured, uow: BffUnitOfWork) -> None:
    payment = _payment(event, uow)
    payment.record_capture(event)
    _projected(payment, event)


def record_capture_failure(event: CaptureFailed, uow: BffUnitOfWork) -> None:
    payment = _payment(event, uow)
    payment.record_capture_failure(event)
    _projected(payment, event)


def record_refund(event: PaymentRefunded, uow: BffUnitOfWork) -> None:
    payment = _payment(event, uow)
    payment.record_refund(event)
    _projected(payment, event)


def record_refund_failure(event: RefundFailed, uow: BffUnitOfWork) -> None:
    payment = _payment(event, uow)
    payment.record_refund_failure(event)
    _projected(payment, event)


HANDLERS: dict[type[Event], Callable[[Any, BffUnitOfWork], None]] = {
    PaymentSucceeded: record_authorization,
    PaymentFailed: record_decline,
    OrderConfirmed: record_order_confirmation,
    OrderFailed: record_order_failure,
    PaymentVoided: record_void,
    PaymentCaptured: record_capture,
    CaptureFailed: record_capture_failure,
    PaymentRefunded: record_refund,
    RefundFailed: record_refund_failure,
}
