"""The states a payment, its payment orders, its refunds and their seller lines can be in, and the
only moves between them the design allows. Every change of state goes through `check_move`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from capture.domain.errors import InvalidTransition


class PaymentOrderStatus(StrEnum):
    CAPTURE_REQUESTED = "CAPTURE_REQUESTED"
    PENDING_CAPTURE = "PENDING_CAPTURE"
    CAPTURED = "CAPTURED"
    CAPTURE_FAILED = "CAPTURE_FAILED"


class PaymentStatus(StrEnum):
    CAPTURE_PENDING = "CAPTURE_PENDING"
    CAPTURED = "CAPTURED"
    PARTIALLY_CAPTURED = "PARTIALLY_CAPTURED"
    CAPTURE_FAILED = "CAPTURE_FAILED"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"
    REFUNDED = "REFUNDED"


class RefundStatus(StrEnum):
    REQUESTED = "REQUESTED"
    REFUNDED = "REFUNDED"
    FAILED = "FAILED"


class SellerRefundStatus(StrEnum):
    REFUND_REQUESTED = "REFUND_REQUESTED"
    PENDING_REFUND = "PENDING_REFUND"
    REFUNDED = "REFUNDED"
    REFUND_FAILED = "REFUND_FAILED"


ORDER_ALLOWED: dict[PaymentOrderStatus, frozenset[PaymentOrderStatus]] = {
    PaymentOrderStatus.CAPTURE_REQUESTED: frozenset(
        {
            PaymentOrderStatus.CAPTURED,
            PaymentOrderStatus.CAPTURE_FAILED,
            PaymentOrderStatus.PENDING_CAPTURE,
        }
    ),
    # The provider's answer is unknown: settled by asking it, never by charging again.
    PaymentOrderStatus.PENDING_CAPTURE: frozenset(
        {PaymentOrderStatus.CAPTURED, PaymentOrderStatus.CAPTURE_FAILED}
    ),
    PaymentOrderStatus.CAPTURED: frozenset(),
    PaymentOrderStatus.CAPTURE_FAILED: frozenset(),
}

PAYMENT_ALLOWED: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.CAPTURE_PENDING: frozenset(
        {PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_CAPTURED, PaymentStatus.CAPTURE_FAILED}
    ),
    # Capture is settled; only refunds move the payment on from here.
    PaymentStatus.CAPTURED: frozenset({PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}),
    PaymentStatus.PARTIALLY_CAPTURED: frozenset(
        {PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}
    ),
    PaymentStatus.PARTIALLY_REFUNDED: frozenset({PaymentStatus.REFUNDED}),
    PaymentStatus.REFUNDED: frozenset(),
    PaymentStatus.CAPTURE_FAILED: frozenset(),
}

REFUND_ALLOWED: dict[RefundStatus, frozenset[RefundStatus]] = {
    RefundStatus.REQUESTED: frozenset({RefundStatus.REFUNDED, RefundStatus.FAILED}),
    RefundStatus.REFUNDED: frozenset(),
    RefundStatus.FAILED: frozenset(),
}

SELLER_REFUND_ALLOWED: dict[SellerRefundStatus, frozenset[SellerRefundStatus]] = {
    SellerRefundStatus.REFUND_REQUESTED: frozenset(
        {
            SellerRefundStatus.REFUNDED,
            SellerRefundStatus.REFUND_FAILED,
            SellerRefundStatus.PENDING_REFUND,
        }
    ),
    SellerRefundStatus.PENDING_REFUND: frozenset(
        {SellerRefundStatus.REFUNDED, SellerRefundStatus.REFUND_FAILED}
    ),
    SellerRefundStatus.REFUNDED: frozenset(),
    SellerRefundStatus.REFUND_FAILED: frozenset(),
}

S = TypeVar("S", bound=StrEnum)


def check_move(allowed: dict[S, frozenset[S]], subject: str, current: S, to: S) -> None:
    if to not in allowed[current]:
        raise InvalidTransition(f"{subject}: {current} -> {to}")
