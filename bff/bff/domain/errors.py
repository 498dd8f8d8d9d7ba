"""The BFF's named errors, each with a stable machine code; `bff.api.errors` maps them to HTTP."""

from __future__ import annotations

from paykit.errors import ImpossibleEvent, PaymentsError


class InvalidRequest(PaymentsError):
    """A well-formed request this payment cannot take. `field` names the part of the request at
    fault, as a validation error does: a path into the JSON body (`lines.0.amount_minor`), a
    header's name, or `body` for the request as a whole."""

    code = "invalid_request"

    def __init__(self, message: str, field: str = "body") -> None:
        super().__init__(message)
        self.field = field


class IdempotencyKeyReused(InvalidRequest):
    code = "idempotency_key_reused"


class PaymentNotFound(PaymentsError):
    code = "payment_not_found"


class PaymentNotRefundable(PaymentsError):
    """The payment has no captured money to refund yet, or never will, or refunded it all."""

    code = "payment_not_refundable"


class RefundExceedsCaptured(InvalidRequest):
    """More asked back, on a line or in total, than was captured and is not yet refunded or
    asked back by an earlier refund."""

    code = "refund_exceeds_captured"


class UnknownLine(InvalidRequest):
    code = "unknown_line"


class InvalidRefund(InvalidRequest):
    """A refund naming a line twice or asking for nothing."""

    code = "invalid_refund"


class UnknownPayment(ImpossibleEvent):
    """A downstream event for a payment the BFF never accepted: its events are only published
    after the BFF committed the payment, so this cannot be a race, only a foreign message."""

    code = "unknown_payment"


class UnknownRefund(ImpossibleEvent):
    """An outcome for a refund the BFF never requested: `RefundRequested` is only published after
    the BFF committed the refund, so this is a foreign message."""

    code = "unknown_refund"


class LineNotInPayment(ImpossibleEvent):
    """A capture of a seller line the payment does not have; the BFF numbered the lines."""

    code = "line_not_in_payment"


class ImpossibleRefundTotals(ImpossibleEvent):
    """A refund outcome claiming more refunded than captured on the payment, or nothing."""

    code = "impossible_refund_totals"


class RefundLinesNotRequested(ImpossibleEvent):
    """A refund outcome paying back a line the refund did not ask for, or more than it asked on
    a line, or lines not adding up to its amount: capture-consumer gives back only what is asked."""

    code = "refund_lines_not_requested"


class CheckoutSessionNotFound(PaymentsError):
    """No session, or a key that does not open it: answered alike, so keys are not probed."""

    code = "checkout_session_not_found"


class CheckoutSessionExpired(PaymentsError):
    code = "checkout_session_expired"


class CheckoutSessionPaid(PaymentsError):
    """The session's payment is under way or done: a double click or a second tab."""

    code = "checkout_session_paid"


class CheckoutAttemptsExhausted(PaymentsError):
    code = "checkout_attempts_exhausted"
