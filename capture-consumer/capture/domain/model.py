"""The payment aggregate: money authorized for one confirmed order, split into one payment order
per seller line, each captured at the provider on its own, and the refunds given back from it.

The payment checks, at each change, that it never captures more than was authorized, that no
line is captured twice, and that no line (hence no payment) has more refunded than captured,
counting refunds still in flight. Every capture and refund of a line posts a balanced journal
entry (`capture.domain.ledger`). Events and journal entries are recorded, not written: the unit
of work stores them in the transaction of the state change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from capture.domain.errors import (
    CaptureExceedsAuthorization,
    InvalidRefund,
    InvalidSplit,
    LineNotCaptured,
    PaymentNotCaptured,
    RefundExceedsCaptured,
    RefundIdReused,
    UnknownLine,
    UnknownRefundLine,
)
from capture.domain.events import capture_failed, payment_captured, payment_refunded, refund_failed
from capture.domain.ledger import capture_entry, refund_entry
from capture.domain.payment_order import PaymentOrder, payment_order_id_for
from capture.domain.refund import Refund, SellerRefund
from capture.domain.states import (
    PAYMENT_ALLOWED,
    PaymentOrderStatus,
    PaymentStatus,
    check_move,
)

if TYPE_CHECKING:
    from capture.domain.errors import RefundRefused
    from capture.domain.ledger import JournalEntry
    from payment_events.events import Event, OrderConfirmed, RefundRequested


NOT_CAPTURED_YET = {PaymentStatus.CAPTURE_PENDING, PaymentStatus.CAPTURE_FAILED}


@dataclass(eq=False)
class Payment:
    payment_id: str
    order_id: str
    currency: str
    authorization_id: str
    authorized_minor: int
    orders: list[PaymentOrder]
    captured_minor: int = 0
    refunded_minor: int = 0
    status: PaymentStatus = PaymentStatus.CAPTURE_PENDING
    refunds: list[Refund] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    journal: list[JournalEntry] = field(default_factory=list)

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

    # Capture ------------------------------------------------------------------------------------

    def lines_to_settle(self) -> list[PaymentOrder]:
        return [o for o in self.orders if not o.is_settled]

    def pending_lines(self) -> list[PaymentOrder]:
        return [o for o in self.orders if o.status is PaymentOrderStatus.PENDING_CAPTURE]

    def capture_line(self, line_no: int, capture_id: str) -> None:
        order = self.order(line_no)
        # Both rules are checked before anything changes, so a refusal leaves no half-step.
        order.ensure_capturable()
        if self.captured_minor + order.amount_minor > self.authorized_minor:
            raise CaptureExceedsAuthorization(
                f"payment {self.payment_id}: capturing {order.amount_minor} on top of "
                f"{self.captured_minor} exceeds the {self.authorized_minor} authorized"
            )
        order.capture(capture_id)
        self.captured_minor += order.amount_minor
        self.journal.append(
            capture_entry(
                payment_id=self.payment_id,
                payment_order_id=order.payment_order_id,
                seller_id=order.seller_id,
                currency=self.currency,
                amount_minor=order.amount_minor,
            )
        )
        self._settle_when_done()

    def pend_line(self, line_no: int) -> None:
        """The provider's answer to this line's capture is unknown; asked again later."""
        self.order(line_no).pend()

    def fail_line(self, line_no: int, code: str, reason: str) -> None:
        order = self.order(line_no)
        order.fail(code, reason)
        self.events.append(capture_failed(self, order))
        self._settle_when_done()

    def _settle_when_done(self) -> None:
        if self.lines_to_settle():
            return
        captured = [o for o in self.orders if o.status is PaymentOrderStatus.CAPTURED]
        if len(captured) == len(self.orders):
            self._move(PaymentStatus.CAPTURED)
            self.events.append(payment_captured(self, captured, partial=False))
        elif captured:
            self._move(PaymentStatus.PARTIALLY_CAPTURED)
            self.events.append(payment_captured(self, captured, partial=True))
        else:
            self._move(PaymentStatus.CAPTURE_FAILED)

    # Refunds ------------------------------------------------------------------------------------

    def find_refund(self, refund_id: str) -> Refund | None:
        return next((r for r in self.refunds if r.refund_id == refund_id), None)

    def request_refund(self, requested: RefundRequested) -> Refund:
        """Opens a refund of the requested seller lines; refused, changing nothing, unless every
        line was captured and still has that much left to refund."""
        self._ensure_new_refund(requested.refund_id)
        self._check_refund_request(requested)
        refund = Refund(
            refund_id=requested.refund_id,
            payment_id=self.payment_id,
            currency=requested.currency,
            amount_minor=requested.amount_minor,
            reason=requested.reason,
            lines=[
                SellerRefund(
                    refund_id=requested.refund_id,
                    line_no=line.line_no,
                    payment_id=self.payment_id,
                    payment_order_id=self.order(line.line_no).payment_order_id,
                    seller_id=self.order(line.line_no).seller_id,
                    amount_minor=line.amount_minor,
                )
                for line in sorted(requested.lines, key=lambda line: line.line_no)
            ],
        )
        self.refunds.append(refund)
        return refund

    def refuse_refund(self, requested: RefundRequested, error: RefundRefused) -> Refund:
        """Records the refund as failed, so the same request under another event id is known."""
        self._ensure_new_refund(requested.refund_id)
        refund = Refund(
            refund_id=requested.refund_id,
            payment_id=self.payment_id,
            currency=requested.currency,
            amount_minor=requested.amount_minor,
            reason=requested.reason,
        )
        refund.fail(error.code, str(error))
        self.refunds.append(refund)
        self.events.append(refund_failed(refund))
        return refund

    def refund_line(self, refund_id: str, line_no: int, provider_refund_id: str) -> None:
        refund, line = self._refund_line(refund_id, line_no)
        order = self.order(line_no)
        # Every rule is checked before anything changes, so a refusal leaves no half-step.
        line.ensure_refundable()
        if order.refunded_minor + line.amount_minor > order.captured_minor:
            raise RefundExceedsCaptured(
                f"payment order {order.payment_order_id}: refunding {line.amount_minor} on top "
                f"of {order.refunded_minor} exceeds the {order.captured_minor} captured"
            )
        if self.refunded_minor + line.amount_minor > self.captured_minor:
            raise RefundExceedsCaptured(
                f"payment {self.payment_id}: refunding {line.amount_minor} on top of "
                f"{self.refunded_minor} exceeds the {self.captured_minor} captured"
            )
        # The status follows the money at once, not when the whole refund settles.
        status = (
            PaymentStatus.REFUNDED
            if self.refunded_minor + line.amount_minor == self.captured_minor
            else PaymentStatus.PARTIALLY_REFUNDED
        )
        if status is not self.status:
            check_move(PAYMENT_ALLOWED, f"payment {self.payment_id}", self.status, status)
        line.refund(provider_refund_id)
        order.refunded_minor += line.amount_minor
        self.refunded_minor += line.amount_minor
        self.status = status
        self.journal.append(
            refund_entry(
                payment_id=self.payment_id,
                payment_order_id=order.payment_order_id,
                refund_id=refund_id,
                line_no=line_no,
                seller_id=order.seller_id,
                currency=self.currency,
                amount_minor=line.amount_minor,
            )
        )
        self._settle_refund_when_done(refund)

    def pend_refund_line(self, refund_id: str, line_no: int) -> None:
        """The provider's answer to this seller refund is unknown; asked again later."""
        self._refund_line(refund_id, line_no)[1].pend()

    def fail_refund_line(self, refund_id: str, line_no: int, code: str, reason: str) -> None:
        refund, line = self._refund_line(refund_id, line_no)
        line.fail(code, reason)
        self._settle_refund_when_done(refund)

    def refunding_minor(self, line_no: int) -> int:
        """What open refunds are giving back from this line, not yet confirmed."""
        return sum(
            line.amount_minor
            for refund in self.refunds
            for line in refund.open_lines()
            if line.line_no == line_no
        )

    def _ensure_new_refund(self, refund_id: str) -> None:
        if self.find_refund(refund_id) is not None:
            raise RefundIdReused(f"payment {self.payment_id} already has refund {refund_id}")

    def _check_refund_request(self, requested: RefundRequested) -> None:
        subject = f"refund {requested.refund_id} of payment {self.payment_id}"
        numbers = [line.line_no for line in requested.lines]
        if not numbers or len(set(numbers)) != len(numbers):
            raise InvalidRefund(f"{subject}: line numbers {numbers}")
        if any(line.amount_minor <= 0 for line in requested.lines):
            raise InvalidRefund(f"{subject}: a line has no positive amount")
        if sum(line.amount_minor for line in requested.lines) != requested.amount_minor:
            raise InvalidRefund(f"{subject}: lines do not add up to {requested.amount_minor}")
        if requested.currency != self.currency:
            raise InvalidRefund(f"{subject}: {requested.currency}, captured in {self.currency}")
        if self.status in NOT_CAPTURED_YET:
            raise PaymentNotCaptured(f"{subject}: the payment is {self.status}")
        for line in requested.lines:
            order = self._find_order(line.line_no)
            if order is None:
                raise UnknownRefundLine(f"{subject}: no line {line.line_no}")
            if order.status is not PaymentOrderStatus.CAPTURED:
                raise LineNotCaptured(f"{subject}: line {line.line_no} is {order.status}")
            left = order.captured_minor - order.refunded_minor - self.refunding_minor(line.line_no)
            if line.amount_minor > left:
                raise RefundExceedsCaptured(
                    f"{subject}: line {line.line_no} has {left} left to refund, "
                    f"{line.amount_minor} asked"
                )

    def _settle_refund_when_done(self, refund: Refund) -> None:
        if refund.open_lines():
            return
        refunded = refund.refunded_lines()
        if not refunded:
            # Every line refused: no money moved, the refund failed for the first line's reason.
            first = refund.lines[0]
            refund.fail(first.failure_code or "refund_failed", first.failure_reason or "")
            self.events.append(refund_failed(refund))
            return
        refund.complete()
        self.events.append(payment_refunded(self, refund, refunded))

    # --------------------------------------------------------------------------------------------

    def _refund_line(self, refund_id: str, line_no: int) -> tuple[Refund, SellerRefund]:
        refund = self.find_refund(refund_id)
        line = refund.line(line_no) if refund is not None else None
        if refund is None or line is None:
            raise UnknownRefundLine(f"payment {self.payment_id}: refund {refund_id} line {line_no}")
        return refund, line

    def _find_order(self, line_no: int) -> PaymentOrder | None:
        return next((o for o in self.orders if o.line_no == line_no), None)

    def order(self, line_no: int) -> PaymentOrder:
        order = self._find_order(line_no)
        if order is None:
            raise UnknownLine(f"payment {self.payment_id} has no line {line_no}")
        return order

    def _move(self, to: PaymentStatus) -> None:
        check_move(PAYMENT_ALLOWED, f"payment {self.payment_id}", self.status, to)
        self.status = to
