"""Capturing and refunding seller lines at the provider. An outcome that may have reached the
provider is settled by asking it (`find_operations` under the line's idempotency key) and
adopting what it did; only a line it has no record of is sent, and always under the same key, so
nothing is ever charged or refunded twice.

A line whose call got no usable answer (`ProviderUnavailable`), or whose operation the provider
reports in a status that is neither done nor failed, is left pending, the others go on. A line
fails only on the provider's word: its refusal (`ProviderRejected`) or an operation it reports
failed. Giving up never fails a line for want of an answer: "no record yet" may be a request
still on its way, so the line is sent once more under its key instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from paykit.provider import ProviderRejected, ProviderUnavailable

if TYPE_CHECKING:
    from capture.adapters.provider import PaymentProvider
    from capture.domain.model import Payment
    from capture.domain.payment_order import PaymentOrder
    from capture.domain.refund import Refund, SellerRefund
    from paykit.provider import Operation

log = structlog.get_logger()

# The provider API's status of an operation that moved the money.
CAPTURE_SUCCEEDED = "succeeded"
REFUND_SUCCEEDED = "refunded"
# Statuses in which the provider says an operation ended without moving the money, for good.
# Any other status (`pending`, `processing`, one never heard of) says nothing final.
FAILED_STATUSES = frozenset({"failed", "declined", "canceled", "cancelled", "rejected"})


def failed_status(status: str) -> bool:
    return status.lower() in FAILED_STATUSES


def failure_of(
    status: str, decline_code: str | None, decline_reason: str | None
) -> tuple[str, str]:
    """The code and reason a line fails with when the provider reports its operation failed."""
    return decline_code or status.lower(), decline_reason or f"the provider reports it {status}"


def operation_under(provider: PaymentProvider, idempotency_key: str, kind: str) -> Operation | None:
    return next((op for op in provider.find_operations(idempotency_key) if op.kind == kind), None)


# Captures ---------------------------------------------------------------------------------------


def capture_seller_lines(payment: Payment, provider: PaymentProvider, *, ask_first: bool) -> None:
    """Settles every line not captured or failed yet. Pending lines are always asked about first;
    `ask_first` asks about every line (a retry, whose earlier try may have reached the provider).
    """
    asked = payment.lines_to_settle() if ask_first else payment.pending_lines()
    unheard = ask_about_captures(payment, provider, asked)
    for order in payment.lines_to_settle():
        if order in unheard or order not in asked:  # entities: compared by identity
            send_capture(payment, order, provider)
    log.info(
        "payment_capture_progress",
        status=payment.status,
        captured_minor=payment.captured_minor,
        pending_lines=len(payment.pending_lines()),
    )


def ask_about_captures(
    payment: Payment, provider: PaymentProvider, orders: list[PaymentOrder]
) -> list[PaymentOrder]:
    """Adopts what the provider did for each line; returns the lines it has no record of."""
    unheard = []
    for order in orders:
        try:
            done = operation_under(provider, order.idempotency_key_capture, "capture")
        except ProviderUnavailable as e:
            payment.pend_line(order.line_no)
            log.warning("seller_line_capture_unknown", line_no=order.line_no, error=str(e))
            continue
        if done is None:
            unheard.append(order)
        else:
            adopt_capture(
                payment, order, done.id, done.status, done.decline_code, done.decline_reason
            )
    return unheard


def send_capture(payment: Payment, order: PaymentOrder, provider: PaymentProvider) -> None:
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
    except ProviderUnavailable as e:
        payment.pend_line(order.line_no)
        log.warning("seller_line_capture_pending", line_no=order.line_no, error=str(e))
    else:
        adopt_capture(payment, order, capture.id, capture.status)


def adopt_capture(
    payment: Payment,
    order: PaymentOrder,
    capture_id: str,
    status: str,
    decline_code: str | None = None,
    decline_reason: str | None = None,
) -> None:
    if failed_status(status):
        # The provider's word that this capture took no money and never will.
        code, reason = failure_of(status, decline_code, decline_reason)
        payment.fail_line(order.line_no, code, reason)
        log.warning("seller_line_capture_failed", line_no=order.line_no, code=code, status=status)
        return
    if status != CAPTURE_SUCCEEDED:
        # Answered, but not saying how it ended: not captured until it says so.
        payment.pend_line(order.line_no)
        log.warning("seller_line_capture_not_confirmed", line_no=order.line_no, status=status)
        return
    payment.capture_line(order.line_no, capture_id)
    log.info(
        "seller_line_captured",
        line_no=order.line_no,
        payment_order_id=order.payment_order_id,
        amount_minor=order.amount_minor,
        capture_id=capture_id,
    )


def give_up_captures(payment: Payment, provider: PaymentProvider) -> list[PaymentOrder]:
    """Last try on the lines still open; returns those it could not settle.

    Every open line is asked about and what the provider did is adopted. A line it has no
    record of is not failed: the last attempt's request may still be on its way (a slow provider,
    a timed-out client), so it is sent once more under the same key, which answers with that
    request's own outcome. It fails only if the provider refuses it. A line the provider cannot
    be reached about stays PENDING_CAPTURE: it may have been captured."""
    capture_seller_lines(payment, provider, ask_first=True)
    left = payment.lines_to_settle()
    for order in left:
        log.error("seller_line_capture_left_pending", line_no=order.line_no)
    return left


# Refunds ----------------------------------------------------------------------------------------


def refund_seller_lines(
    payment: Payment, refund: Refund, provider: PaymentProvider, *, ask_first: bool
) -> None:
    """Settles every open line of the refund, as `capture_seller_lines` does for captures."""
    asked = refund.open_lines() if ask_first else refund.pending_lines()
    unheard = ask_about_refunds(payment, refund, provider, asked)
    for line in refund.open_lines():
        if line in unheard or line not in asked:
            send_refund(payment, refund, line, provider)
    log.info(
        "refund_progress",
        refund_id=refund.refund_id,
        status=refund.status,
        refunded_minor=payment.refunded_minor,
        pending_lines=len(refund.pending_lines()),
    )


def ask_about_refunds(
    payment: Payment, refund: Refund, provider: PaymentProvider, lines: list[SellerRefund]
) -> list[SellerRefund]:
    """Adopts what the provider did for each line; returns the lines it has no record of."""
    unheard = []
    for line in lines:
        try:
            done = operation_under(provider, line.idempotency_key_refund, "refund")
        except ProviderUnavailable as e:
            payment.pend_refund_line(refund.refund_id, line.line_no)
            log.warning("seller_line_refund_unknown", line_no=line.line_no, error=str(e))
            continue
        if done is None:
            unheard.append(line)
        else:
            adopt_refund(
                payment, refund, line, done.id, done.status, done.decline_code, done.decline_reason
            )
    return unheard


def send_refund(
    payment: Payment, refund: Refund, line: SellerRefund, provider: PaymentProvider
) -> None:
    capture_id = payment.order(line.line_no).capture_id
    assert capture_id is not None  # a refund line is only opened on a captured line
    try:
        answer = provider.refund(
            idempotency_key=line.idempotency_key_refund,
            capture_id=capture_id,
            amount_minor=line.amount_minor,
            reference=line.reference,
        )
    except ProviderRejected as e:
        payment.fail_refund_line(refund.refund_id, line.line_no, e.code, e.message)
        log.warning("seller_line_refund_failed", line_no=line.line_no, code=e.code)
    except ProviderUnavailable as e:
        payment.pend_refund_line(refund.refund_id, line.line_no)
        log.warning("seller_line_refund_pending", line_no=line.line_no, error=str(e))
    else:
        adopt_refund(payment, refund, line, answer.id, answer.status)


def adopt_refund(
    payment: Payment,
    refund: Refund,
    line: SellerRefund,
    provider_refund_id: str,
    status: str,
    decline_code: str | None = None,
    decline_reason: str | None = None,
) -> None:
    if failed_status(status):
        # The provider's word that this refund gave nothing back and never will.
        code, reason = failure_of(status, decline_code, decline_reason)
        payment.fail_refund_line(refund.refund_id, line.line_no, code, reason)
        log.warning("seller_line_refund_failed", line_no=line.line_no, code=code, status=status)
        return
    if status != REFUND_SUCCEEDED:
        payment.pend_refund_line(refund.refund_id, line.line_no)
        log.warning("seller_line_refund_not_confirmed", line_no=line.line_no, status=status)
        return
    payment.refund_line(refund.refund_id, line.line_no, provider_refund_id)
    log.info(
        "seller_line_refunded",
        refund_id=refund.refund_id,
        line_no=line.line_no,
        amount_minor=line.amount_minor,
        provider_refund_id=provider_refund_id,
    )


def give_up_refund_lines(
    payment: Payment, refund: Refund, provider: PaymentProvider
) -> list[SellerRefund]:
    """Last try on the refund's open lines; returns those it could not settle. As for captures:
    what the provider did is adopted, a line it has no record of is sent once more under the
    same key and fails only if the provider refuses it, and a line the provider cannot be
    reached about stays open. The refund settles (REFUNDED or FAILED) once no line is open."""
    refund_seller_lines(payment, refund, provider, ask_first=True)
    left = refund.open_lines()
    for line in left:
        log.error("seller_line_refund_left_open", refund_id=refund.refund_id, line_no=line.line_no)
    return left
