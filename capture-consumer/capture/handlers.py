"""capture's handlers: one per event it consumes, and one give-up per event for when the retry
schedule has run out of attempts."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from capture.domain.errors import RefundIdReused, RefundRefused, UnknownPayment
from capture.domain.events import refund_refused
from capture.domain.model import Payment
from capture.seller_lines import (
    capture_seller_lines,
    give_up_captures,
    give_up_refund_lines,
    refund_seller_lines,
)
from payment_events.events import Event, OrderConfirmed, RefundRequested

if TYPE_CHECKING:
    from collections.abc import Callable

    from capture.adapters.provider import PaymentProvider
    from capture.domain.refund import Refund
    from capture.unit_of_work import CaptureUnitOfWork

log = structlog.get_logger()


def capture_payment(
    event: OrderConfirmed, uow: CaptureUnitOfWork, provider: PaymentProvider
) -> None:
    """Records the payment and captures its lines. Re-entrant: on a payment already recorded it
    settles the lines still pending, and is a no-op once every line is settled."""
    payment = uow.payments.get(event.payment_id)
    if payment is None:
        payment = Payment.split(event)
        uow.payments.add(payment)
    elif not payment.lines_to_settle():
        # The inbox stops a redelivery; this stops the same payment confirmed under a new event id.
        log.info("payment_already_recorded", status=payment.status)
        return
    capture_seller_lines(payment, provider, ask_first=uow.may_have_acted)
    keep(uow, payment)
    if payment.pending_lines():
        # The settled lines commit now; the pending ones are asked about on the next attempt.
        uow.retry_later(f"{len(payment.pending_lines())} seller lines pending capture")


def refund_payment(
    event: RefundRequested, uow: CaptureUnitOfWork, provider: PaymentProvider
) -> None:
    """Gives the requested amounts back, line by line. A refund the payment cannot take is
    answered with RefundFailed; re-entrant like `capture_payment`."""
    payment = uow.payments.get(event.payment_id)
    if payment is None:
        if uow.replayed:
            # A replay re-delivers each topic on its own: this payment's OrderConfirmed may be
            # re-delivered after its RefundRequested.
            uow.retry_later("RefundRequested re-delivered before the payment's OrderConfirmed")
            return
        refuse_unknown_payment(event, uow)
        return
    refund = payment.find_refund(event.refund_id)
    if refund is None:
        refund = open_refund(event, uow, payment)
    elif refund.is_settled:
        log.info("refund_already_settled", refund_id=refund.refund_id, status=refund.status)
        return
    if not refund.is_settled:
        refund_seller_lines(payment, refund, provider, ask_first=uow.may_have_acted)
    keep(uow, payment)
    if refund.pending_lines():
        # The settled lines commit now; the pending ones are asked about on the next attempt.
        uow.retry_later(f"{len(refund.pending_lines())} seller lines pending refund")


def refuse_unknown_payment(event: RefundRequested, uow: CaptureUnitOfWork) -> None:
    error = UnknownPayment(f"refund {event.refund_id}: no payment {event.payment_id}")
    log.warning("refund_refused", refund_id=event.refund_id, code=error.code)
    uow.record(refund_refused(event, error))


def open_refund(event: RefundRequested, uow: CaptureUnitOfWork, payment: Payment) -> Refund:
    owner = uow.payments.payment_of_refund(event.refund_id)
    if owner is not None:
        raise RefundIdReused(f"refund {event.refund_id} belongs to payment {owner}")
    try:
        refund = payment.request_refund(event)
    except RefundRefused as e:
        refund = payment.refuse_refund(event, e)
        log.warning("refund_refused", refund_id=event.refund_id, code=e.code, error=str(e))
    uow.payments.flush()
    return refund


def give_up_capture(
    event: OrderConfirmed,
    uow: CaptureUnitOfWork,
    error: BaseException,
    provider: PaymentProvider,
) -> None:
    """The last try on the lines still open (see `give_up_captures`). A line the provider could
    still not be reached about stays pending, and `uow.retry_later` tells the runtime the message
    is not finished: it dead-letters it without marking it handled, so replaying the dead letter
    settles the line (the handler is re-entrant)."""
    payment = uow.payments.get(event.payment_id)
    if payment is None:
        # No attempt got as far as recording it; whatever it sent, the provider is asked below.
        payment = Payment.split(event)
        uow.payments.add(payment)
    left = give_up_captures(payment, provider)
    keep(uow, payment)
    if left:
        uow.retry_later(
            f"gave up after retries ({error}) with {len(left)} seller lines pending capture"
        )


def give_up_refund(
    event: RefundRequested,
    uow: CaptureUnitOfWork,
    error: BaseException,
    provider: PaymentProvider,
) -> None:
    """The last try on the refund's open lines (see `give_up_refund_lines`); a line left open
    makes it `uow.retry_later`, as `give_up_capture` does."""
    payment = uow.payments.get(event.payment_id)
    if payment is None:
        refuse_unknown_payment(event, uow)  # nothing can have moved without a payment
        return
    refund = payment.find_refund(event.refund_id) or open_refund(event, uow, payment)
    left = [] if refund.is_settled else give_up_refund_lines(payment, refund, provider)
    keep(uow, payment)
    if left:
        uow.retry_later(
            f"gave up after retries ({error}) with {len(left)} seller lines pending refund"
        )


def keep(uow: CaptureUnitOfWork, payment: Payment) -> None:
    """The payment's journal entries and events, into this transaction."""
    uow.ledger.post(*payment.journal)
    uow.record(*payment.events)
    payment.journal.clear()
    payment.events.clear()


HANDLERS: dict[type[Event], Callable[..., None]] = {
    OrderConfirmed: capture_payment,
    RefundRequested: refund_payment,
}

GIVE_UP: dict[type[Event], Callable[..., None]] = {
    OrderConfirmed: give_up_capture,
    RefundRequested: give_up_refund,
}
