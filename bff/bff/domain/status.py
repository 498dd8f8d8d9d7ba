"""The statuses of the read model and the one rule that moves them.

Events reach the BFF on different topics, so one payment's events can arrive in any order. The
status therefore only moves forward by rank, and a terminal status is never left; the facts an
event carries are kept whatever its arrival order.
"""

from __future__ import annotations

from enum import StrEnum


class PaymentStatus(StrEnum):
    PROCESSING = "PROCESSING"
    AUTHORIZED = "AUTHORIZED"
    ORDER_CONFIRMED = "ORDER_CONFIRMED"
    CAPTURED = "CAPTURED"
    PARTIALLY_CAPTURED = "PARTIALLY_CAPTURED"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"
    REFUNDED = "REFUNDED"
    DECLINED = "DECLINED"
    FAILED = "FAILED"


RANK: dict[PaymentStatus, int] = {
    PaymentStatus.PROCESSING: 0,
    PaymentStatus.AUTHORIZED: 1,
    PaymentStatus.ORDER_CONFIRMED: 2,
    # A capture settles once, fully or partly: the first settlement heard of stands.
    PaymentStatus.CAPTURED: 3,
    PaymentStatus.PARTIALLY_CAPTURED: 3,
    PaymentStatus.DECLINED: 3,
    PaymentStatus.FAILED: 3,
    PaymentStatus.PARTIALLY_REFUNDED: 4,
    PaymentStatus.REFUNDED: 5,
}
TERMINAL = frozenset({PaymentStatus.DECLINED, PaymentStatus.FAILED, PaymentStatus.REFUNDED})
# Money was captured and some of it may not be refunded yet.
REFUNDABLE = frozenset(
    {PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_CAPTURED, PaymentStatus.PARTIALLY_REFUNDED}
)


def advance(current: PaymentStatus, signalled: PaymentStatus | None) -> PaymentStatus:
    """The status after an event that signals `signalled` (None: an event that moves nothing)."""
    if signalled is None or current in TERMINAL:
        return current
    return signalled if RANK[signalled] > RANK[current] else current
