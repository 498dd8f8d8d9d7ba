"""The payment aggregate: money authorized for one confirmed order, split into one payment order
per seller line, each captured at the provider on its own.

A payment order goes CAPTURE_REQUESTED -> CAPTURED | CAPTURE_FAILED (or through PENDING_CAPTURE
when the provider's answer is unknown). The payment goes CAPTURE_PENDING -> CAPTURED |
PARTIALLY_CAPTURED | CAPTURE_FAILED once every line has settled. Settled states absorb. The
payment checks that it never captures more than was authorized and that no line is captured
twice; the events it records go to the outbox with the state change.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from capture.domain.errors import (
    CaptureExceedsAuthorization,
    InvalidSplit,
    InvalidTransition,
    LineAlreadyCaptured,
    UnknownLine,
)
from payment_events.events import CapturedLine, CaptureFailed, Event, PaymentCaptured

if TYPE_CHECKING:
    from payment_events.events import OrderConfirmed

# Fixed forever: payment order ids are derived from it, and a retry must derive the same ids,
# because each id is the reference of a capture request the provider may already hold under
# that line's idempotency key (a different reference would be a different request).
PAYMENT_ORDER_NAMESPACE = uuid.UUID("518de3e0-053a-414d-880d-7108dd8850d3")


def payment_order_id_for(payment_id: str, line_no: int) -> str:
    return str(uuid.uuid5(PAYMENT_ORDER_NAMESPACE, f"{payment_id}:{line_no}"))


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


ORDER_ALLOWED: dict[PaymentOrderStatus, set[PaymentOrderStatus]] = {
    PaymentOrderStatus.CAPTURE_REQUESTED: {
        PaymentOrderStatus.CAPTURED,
        PaymentOrderStatus.CAPTURE_FAILED,
        PaymentOrderStatus.PENDING_CAPTURE,
    },
    # Reached when a capture timed out; settled by asking the provider, never by charging again.
    PaymentOrderStatus.PENDING_CAPTURE: {
        PaymentOrderStatus.CAPTURED,
        PaymentOrderStatus.CAPTURE_FAILED,
    },
    PaymentOrderStatus.CAPTURED: set(),
    PaymentOrderStatus.CAPTURE_FAILED: set(),
}

PAYMENT_ALLOWED: dict[PaymentStatus, set[PaymentStatus]] = {
    PaymentStatus.CAPTURE_PENDING: {
        PaymentStatus.CAPTURED,
        PaymentStatus.PARTIALLY_CAPTURED,
        PaymentStatus.CAPTURE_FAILED,
    },
    PaymentStatus.CAPTURED: set(),
    PaymentStatus.PARTIALLY_CAPTURED: set(),
    PaymentStatus.CAPTURE_FAILED: set(),
}

SETTLED = {PaymentOrderStatus.CAPTURED, PaymentOrderStatus.CAPTURE_FAILED}


@dataclass(eq=False)
class PaymentOrder:
    """One seller line of a payment: what is captured for that seller, and how it went."""

    payment_order_id: str
    payment_id: str
    line_no: int
    seller_id: str
    amount_minor: int
    status: PaymentOrderStatus = PaymentOrderStatus.CAPTURE_REQUESTED
    capture_id: str | None = None
    failure_code: str | None = None
    failure_reason: str | None = None

    @property
    def idempotency_key_capture(self) -> str:
        return f"{self.payment_id}:capture:{self.line_no}"

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

    def fail(self, code: str, reason: str) -> None:
        self._check(PaymentOrderStatus.CAPTURE_FAILED)
        self.status = PaymentOrderStatus.CAPTURE_FAILED
        self.failure_code, self.failure_reason = code, reason

    def _check(self, to: PaymentOrderStatus) -> None:
        if to not in ORDER_ALLOWED[self.status]:
            raise InvalidTransition(f"payment order {self.payment_order_id}: {self.status} -> {to}")


@dataclass(eq=False)
class Payment:
    payment_id: str
    order_id: str
    currency: str
    authorization_id: str
    authorized_minor: int
    orders: list[PaymentOrder]
    captured_minor: int = 0
    status: PaymentStatus = PaymentStatus.CAPTURE_PENDING
    events: list[Event] = field(default_factory=list)

    @classmethod
    def split(cls, confirmed: OrderConfirmed) -> Payment:
        """One payment order per seller line; refused before any money moves if the lines
        could never all be captured within the authorization."""
        numbers = [line.line_no for line in confirmed.lines]
        if not numbers or len(set(numbers)) != len(numbers):
            raise InvalidSplit(f"payment {confirmed.payment_id}: line numbers {numbers}")
        if any(line.amount_minor <= 0 for line in confirmed.lines):
            raise InvalidSplit(f"payment {confirmed.payment_id}: a line has no positive amount")
        total = sum(line.amount_minor for line in confirmed.lines)
        if total > confirmed.amount_minor:
            raise CaptureExceedsAuthorization(
                f"payment {confirmed.payment_id}: lines total {total}, "
                f"authorized {confirmed.amount_minor}"
            )
        return cls(
            payment_id=confirmed.payment_id,
            order_id=confirmed.order_id,
            currency=confirmed.currency,
            authorization_id=confirmed.authorization_id,
            authorized_minor=confirmed.amount_minor,
            orders=[
                PaymentOrder(
                    payment_order_id=payment_order_id_for(confirmed.payment_id, line.line_no),
                    payment_id=confirmed.payment_id,
                    line_no=line.line_no,
                    seller_id=line.seller_id,
                    amount_minor=line.amount_minor,
                )
                for line in sorted(confirmed.lines, key=lambda line: line.line_no)
            ],
        )

    def lines_to_capture(self) -> list[PaymentOrder]:
        return [o for o in self.orders if o.status is PaymentOrderStatus.CAPTURE_REQUESTED]

    def capture_line(self, line_no: int, capture_id: str) -> None:
        order = self._order(line_no)
        # Both rules are checked before anything changes, so a refusal leaves no half-step.
        order.ensure_capturable()
        if self.captured_minor + order.amount_minor > self.authorized_minor:
            raise CaptureExceedsAuthorization(
                f"payment {self.payment_id}: capturing {order.amount_minor} on top of "
                f"{self.captured_minor} exceeds the {self.authorized_minor} authorized"
            )
        order.capture(capture_id)
        self.captured_minor += order.amount_minor
        self._settle_when_done()

    def fail_line(self, line_no: int, code: str, reason: str) -> None:
        order = self._order(line_no)
        order.fail(code, reason)
        self.events.append(
            CaptureFailed(
                payment_id=self.payment_id,
                payment_order_id=order.payment_order_id,
                line_no=order.line_no,
                seller_id=order.seller_id,
                currency=self.currency,
                amount_minor=order.amount_minor,
                code=code,
                reason=reason,
            )
        )
        self._settle_when_done()

    def _settle_when_done(self) -> None:
        if any(o.status not in SETTLED for o in self.orders):
            return
        captured = [o for o in self.orders if o.status is PaymentOrderStatus.CAPTURED]
        if len(captured) == len(self.orders):
            self._move(PaymentStatus.CAPTURED)
            self.events.append(self._captured_event(captured))
        elif captured:
            self._move(PaymentStatus.PARTIALLY_CAPTURED)
        else:
            self._move(PaymentStatus.CAPTURE_FAILED)

    def _captured_event(self, captured: list[PaymentOrder]) -> PaymentCaptured:
        lines = []
        for o in captured:
            assert o.capture_id is not None  # every CAPTURED payment order has one
            lines.append(
                CapturedLine(
                    payment_order_id=o.payment_order_id,
                    line_no=o.line_no,
                    seller_id=o.seller_id,
                    amount_minor=o.amount_minor,
                    capture_id=o.capture_id,
                )
            )
        return PaymentCaptured(
            payment_id=self.payment_id,
            order_id=self.order_id,
            currency=self.currency,
            amount_minor=self.captured_minor,
            lines=tuple(lines),
        )

    def _order(self, line_no: int) -> PaymentOrder:
        for o in self.orders:
            if o.line_no == line_no:
                return o
        raise UnknownLine(f"payment {self.payment_id} has no line {line_no}")

    def _move(self, to: PaymentStatus) -> None:
        if to not in PAYMENT_ALLOWED[self.status]:
            raise InvalidTransition(f"payment {self.payment_id}: {self.status} -> {to}")
        self.status = to
