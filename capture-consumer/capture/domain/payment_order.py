"""A payment order: one seller line of a payment, captured at the provider on its own.

It goes CAPTURE_REQUESTED -> CAPTURED | CAPTURE_FAILED, or through PENDING_CAPTURE while the
provider's answer is unknown; settled states absorb. It also keeps how much of its capture was
refunded since; the payment checks that against what it captured.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from capture.domain.errors import LineAlreadyCaptured
from capture.domain.states import ORDER_ALLOWED, PaymentOrderStatus, check_move

UNSETTLED = {PaymentOrderStatus.CAPTURE_REQUESTED, PaymentOrderStatus.PENDING_CAPTURE}

# Fixed forever: payment order ids are derived from it, and a retry must derive the same ids,
# because each id is the reference of a capture request the provider may already hold under
# that line's idempotency key (a different reference would be a different request).
PAYMENT_ORDER_NAMESPACE = uuid.UUID("518de3e0-053a-414d-880d-7108dd8850d3")


def payment_order_id_for(payment_id: str, line_no: int) -> str:
    return str(uuid.uuid5(PAYMENT_ORDER_NAMESPACE, f"{payment_id}:{line_no}"))


@dataclass(eq=False)
class PaymentOrder:
    """One seller line of a payment: what is captured for that seller, how it went, and how much
    of it was refunded since."""

    payment_order_id: str
    payment_id: str
    line_no: int
    seller_id: str
    amount_minor: int
    status: PaymentOrderStatus = PaymentOrderStatus.CAPTURE_REQUESTED
    capture_id: str | None = None
    failure_code: str | None = None
    failure_reason: str | None = None
    refunded_minor: int = 0

    @property
    def idempotency_key_capture(self) -> str:
        return f"{self.payment_id}:capture:{self.line_no}"

    @property
    def captured_minor(self) -> int:
        return self.amount_minor if self.status is PaymentOrderStatus.CAPTURED else 0

    @property
    def is_settled(self) -> bool:
        return self.status not in UNSETTLED

    def ensure_capturable(self) -> None:
        """Raises unless this line may be captured now; changes nothing."""
        if self.status is PaymentOrderStatus.CAPTURED:
            raise LineAlreadyCaptured(
                f"payment order {self.payment_order_id} was already captured as {self.capture_id}"
            )
        self._check(PaymentOrderStatus.CAPTURED)

    def capture(self, capture_id: str) -> None:
        self.ensure_capturable()
        self.status = PaymentOrderStatus.CAPTURED
        self.capture_id = capture_id

    def pend(self) -> None:
        if self.status is PaymentOrderStatus.PENDING_CAPTURE:
            return  # still unknown: nothing learnt, nothing moves
        self._check(PaymentOrderStatus.PENDING_CAPTURE)
        self.status = PaymentOrderStatus.PENDING_CAPTURE

    def fail(self, code: str, reason: str) -> None:
        self._check(PaymentOrderStatus.CAPTURE_FAILED)
        self.status = PaymentOrderStatus.CAPTURE_FAILED
        self.failure_code, self.failure_reason = code, reason

    def _check(self, to: PaymentOrderStatus) -> None:
        check_move(ORDER_ALLOWED, f"payment order {self.payment_order_id}", self.status, to)
