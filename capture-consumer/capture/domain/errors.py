"""Capture's named errors. An `ImpossibleEvent` is a message that cannot apply to the payment's
state (it is dead-lettered); a `RefundRefused` is a refund the payment cannot take, answered with
`RefundFailed` under the error's code.
"""

from __future__ import annotations

from paykit.errors import ImpossibleEvent


class InvalidSplit(ImpossibleEvent):
    code = "invalid_payment_split"


class CaptureExceedsAuthorization(ImpossibleEvent):
    code = "capture_exceeds_authorization"


class LineAlreadyCaptured(ImpossibleEvent):
    code = "line_already_captured"


class UnknownLine(ImpossibleEvent):
    code = "unknown_payment_line"


class InvalidTransition(ImpossibleEvent):
    code = "invalid_capture_transition"


class UnbalancedEntry(ImpossibleEvent):
    code = "unbalanced_journal_entry"


class RefundIdReused(ImpossibleEvent):
    """The refund id is already taken by another payment, or by another request on this one."""

    code = "refund_id_reused"


class RefundRefused(ImpossibleEvent):
    code = "refund_refused"


class UnknownPayment(RefundRefused):
    code = "unknown_payment"


class InvalidRefund(RefundRefused):
    """No lines, a line twice, an amount not positive, lines not adding up, another currency."""

    code = "invalid_refund"


class PaymentNotCaptured(RefundRefused):
    code = "payment_not_captured"


class LineNotCaptured(RefundRefused):
    code = "line_not_captured"


class UnknownRefundLine(RefundRefused):
    code = "unknown_payment_line"


class RefundExceedsCaptured(RefundRefused):
    code = "refund_exceeds_captured"
