"""A refund of a payment: money given back to the shopper, one seller refund per seller line.

A seller refund goes REFUND_REQUESTED -> REFUNDED | REFUND_FAILED, or through PENDING_REFUND when
the provider's answer is unknown. The refund stays REQUESTED until every seller refund settled,
then ends REFUNDED (some money went back) or FAILED (none did). Settled states absorb. A refund
lives inside its payment's aggregate: "never refund more than was captured" spans both, and the
payment's row lock guards it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from capture.domain.states import (
    REFUND_ALLOWED,
    SELLER_REFUND_ALLOWED,
    RefundStatus,
    SellerRefundStatus,
    check_move,
)

OPEN = {SellerRefundStatus.REFUND_REQUESTED, SellerRefundStatus.PENDING_REFUND}


@dataclass(eq=False)
class SellerRefund:
    """One seller line of a refund: how much of that line's capture goes back, and how it went."""

    refund_id: str
    line_no: int
    payment_id: str
    payment_order_id: str
    seller_id: str
    amount_minor: int
    status: SellerRefundStatus = SellerRefundStatus.REFUND_REQUESTED
    provider_refund_id: str | None = None
    failure_code: str | None = None
    failure_reason: str | None = None

    @property
    def idempotency_key_refund(self) -> str:
        return f"{self.payment_id}:refund:{self.refund_id}:{self.line_no}"

    @property
    def reference(self) -> str:
        # The same on every attempt: it is part of the request the provider keeps under the key.
        return f"{self.refund_id}:{self.line_no}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    def ensure_refundable(self) -> None:
        self._check(SellerRefundStatus.REFUNDED)

    def refund(self, provider_refund_id: str) -> None:
        self._check(SellerRefundStatus.REFUNDED)
        self.status = SellerRefundStatus.REFUNDED
        self.provider_refund_id = provider_refund_id

    def pend(self) -> None:
        if self.status is SellerRefundStatus.PENDING_REFUND:
            return  # still unknown: nothing learnt, nothing moves
        self._check(SellerRefundStatus.PENDING_REFUND)
        self.status = SellerRefundStatus.PENDING_REFUND

    def fail(self, code: str, reason: str) -> None:
        self._check(SellerRefundStatus.REFUND_FAILED)
        self.status = SellerRefundStatus.REFUND_FAILED
        self.failure_code, self.failure_reason = code, reason

    def _check(self, to: SellerRefundStatus) -> None:
        subject = f"refund {self.refund_id} line {self.line_no}"
        check_move(SELLER_REFUND_ALLOWED, subject, self.status, to)


@dataclass(eq=False)
class Refund:
    refund_id: str
    payment_id: str
    currency: str
    amount_minor: int
    reason: str | None
    lines: list[SellerRefund] = field(default_factory=list)
    status: RefundStatus = RefundStatus.REQUESTED
    failure_code: str | None = None
    failure_reason: str | None = None

    @property
    def is_settled(self) -> bool:
        return self.status is not RefundStatus.REQUESTED

    def open_lines(self) -> list[SellerRefund]:
        return [line for line in self.lines if line.is_open]

    def pending_lines(self) -> list[SellerRefund]:
        return [line for line in self.lines if line.status is SellerRefundStatus.PENDING_REFUND]

    def refunded_lines(self) -> list[SellerRefund]:
        return [line for line in self.lines if line.status is SellerRefundStatus.REFUNDED]

    def line(self, line_no: int) -> SellerRefund | None:
        return next((line for line in self.lines if line.line_no == line_no), None)

    def complete(self) -> None:
        check_move(REFUND_ALLOWED, f"refund {self.refund_id}", self.status, RefundStatus.REFUNDED)
        self.status = RefundStatus.REFUNDED

    def fail(self, code: str, reason: str) -> None:
        check_move(REFUND_ALLOWED, f"refund {self.refund_id}", self.status, RefundStatus.FAILED)
        self.status = RefundStatus.FAILED
        self.failure_code, self.failure_reason = code, reason
