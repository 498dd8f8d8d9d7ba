"""The projector's handlers: one per downstream event, each moving one payment's read model, as
functions of the event and the payment (`paykit.states`). The runtime loads the payments of a
batch locked, so events of one payment from several topics, and refunds the API asks for
meanwhile, take turns."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from bff.adapters.statuses import PaymentStatuses
from bff.domain.errors import UnknownPayment
from bff.domain.payment import Payment
from paykit.states import StateHandlers
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

    from paykit.states import Apply

log = structlog.get_logger()


def projecting(record: Callable[[Payment, Any], None]) -> Apply[Payment]:
    """The handler that moves a known payment's read model with `record`."""

    def project(event: Event, payment: Payment | None) -> Payment:
        if payment is None:
            raise UnknownPayment(
                f"{type(event).__name__} for payment {event.payment_id}, "
                "which the BFF never accepted"
            )
        record(payment, event)
        log.debug("status_projected", event_type=type(event).__name__, status=payment.status)
        return payment

    return project


HANDLERS: dict[type[Event], Apply[Payment]] = {
    PaymentSucceeded: projecting(Payment.record_authorization),
    PaymentFailed: projecting(Payment.record_decline),
    OrderConfirmed: projecting(Payment.record_order_confirmation),
    OrderFailed: projecting(Payment.record_order_failure),
    PaymentVoided: projecting(Payment.record_void),
    PaymentCaptured: projecting(Payment.record_capture),
    CaptureFailed: projecting(Payment.record_capture_failure),
    PaymentRefunded: projecting(Payment.record_refund),
    RefundFailed: projecting(Payment.record_refund_failure),
}

STATUSES: StateHandlers[Payment] = StateHandlers(PaymentStatuses(), HANDLERS)
