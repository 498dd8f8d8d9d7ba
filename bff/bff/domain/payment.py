"""The payment as the BFF sees it: the accepted request, the status read model that the downstream
events build up, and the refunds asked of it. Accepting records `PaymentInitiated`, asking for a
refund records `RefundRequested`; the unit of work writes them to the outbox in the same
transaction as the payment's rows.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from bff.domain.errors import (
    ImpossibleRefundTotals,
    LineNotInPayment,
    PaymentNotRefundable,
    UnknownRefund,
)
from bff.domain.line import LineCapture, PaymentLine, capture_outcome
from bff.domain.refund import (
    LineBalance,
    Refund,
    RefundStatus,
    balances,
    held_by,
    plan_refund,
)
from bff.domain.status import REFUNDABLE, PaymentStatus, advance
from payment_events.events import PaymentInitiated, RefundLine, RefundRequested, SellerLine

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from datetime import datetime

    from payment_events.events import (
        CaptureFailed,
        Event,
        OrderConfirmed,
        OrderFailed,
        PaymentCaptured,
        PaymentFailed,
        PaymentRefunded,
        PaymentSucceeded,
        PaymentVoided,
        RefundFailed,
    )

# A void without the OrderFailed that caused it (still on its way, on another topic).
VOIDED_CODE = "authorization_voided"


@dataclass(eq=False)
class HistoryEntry:
    status: PaymentStatus
    event: str
    at: datetime
    event_id: str


# PaymentFailed codes billing uses when it gave up, not when the provider declined.
NOT_A_DECLINE = frozenset({"provider_unavailable", "authorization_failed"})


@dataclass(frozen=True)
class NewPayment:
    """A payment just accepted, as the accept path records it (`Payment.of` is the same payment
    as the read model keeps it): a plain value, so that accepting costs no ORM bookkeeping."""

    client_id: str
    initiated: PaymentInitiated
    status: ClassVar[PaymentStatus] = PaymentStatus.PROCESSING

    @property
    def payment_id(self) -> str:
        return self.initiated.payment_id

    @property
    def customer_id(self) -> str:
        return self.initiated.customer_id

    @property
    def currency(self) -> str:
        return self.initiated.currency

    @property
    def amount_minor(self) -> int:
        return self.initiated.amount_minor

    @property
    def return_url(self) -> str | None:
        return self.initiated.return_url

    @property
    def accepted_at(self) -> datetime:
        return self.initiated.occurred_at

    def lines(self) -> list[PaymentLine]:
        return [
            PaymentLine(line_no=x.line_no, seller_id=x.seller_id, amount_minor=x.amount_minor)
            for x in self.initiated.lines
        ]


def accept_payment(
    *,
    payment_id: str,
    client_id: str,
    customer_id: str,
    currency: str,
    payment_method: str,
    amounts: Sequence[tuple[str, int]],
    return_url: str | None,
) -> NewPayment:
    """A new payment from the request; `amounts` are (seller_id, amount_minor) in order."""
    initiated = PaymentInitiated(
        payment_id=payment_id,
        customer_id=customer_id,
        currency=currency,
        amount_minor=sum(amount for _, amount in amounts),
        # The method token travels in the event only: the read model never shows it.
        payment_method=payment_method,
        lines=tuple(
            SellerLine(line_no=n, seller_id=seller_id, amount_minor=amount)
            for n, (seller_id, amount) in enumerate(amounts)
        ),
        return_url=return_url,
    )
    return NewPayment(client_id, initiated)


@dataclass(eq=False)
class Payment:
    payment_id: str
    client_id: str
    customer_id: str
    currency: str
    amount_minor: int
    lines: list[PaymentLine]
    return_url: str | None
    created_at: datetime
    updated_at: datetime
    status: PaymentStatus = PaymentStatus.PROCESSING
    authorized_minor: int = 0
    captured_minor: int = 0
    refunded_minor: int = 0
    order_id: str | None = None
    sso_token: str | None = None
    redirect_url: str | None = None
    failure_code: str | None = None
    failure_reason: str | None = None
    history: list[HistoryEntry] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    @classmethod
    def of(cls, new: NewPayment) -> Payment:
        """The payment a new one is, its event recorded."""
        initiated = new.initiated
        payment = cls(
            payment_id=new.payment_id,
            client_id=new.client_id,
            customer_id=new.customer_id,
            currency=new.currency,
            amount_minor=new.amount_minor,
            lines=new.lines(),
            return_url=new.return_url,
            created_at=new.accepted_at,
            updated_at=new.accepted_at,
        )
        payment._observe(initiated, new.status)
        payment.events.append(initiated)
        return payment

    def record_authorization(self, event: PaymentSucceeded) -> None:
        self.authorized_minor = event.amount_minor
        self._observe(event, PaymentStatus.AUTHORIZED)

    def record_decline(self, event: PaymentFailed) -> None:
        self.failure_code, self.failure_reason = event.code, event.reason
        # The provider never answered: a failure of ours, not the card's refusal.
        failed = event.code in NOT_A_DECLINE
        self._observe(event, PaymentStatus.FAILED if failed else PaymentStatus.DECLINED)

    def record_order_confirmation(self, event: OrderConfirmed) -> None:
        self.order_id = event.order_id
        self.sso_token, self.redirect_url = event.sso_token, event.redirect_url
        self._observe(event, PaymentStatus.ORDER_CONFIRMED)

    def record_order_failure(self, event: OrderFailed) -> None:
        # The order's refusal is the cause; it replaces what an earlier-arriving void said.
        self.failure_code, self.failure_reason = event.code, event.reason
        self.order_id = self.order_id or event.order_id
        self._observe(event, PaymentStatus.FAILED)

    def record_void(self, event: PaymentVoided) -> None:
        # Billing voids only after the order failed, so a void means FAILED even when it
        # overtakes the OrderFailed that caused it.
        if self.failure_code is None:
            self.failure_code, self.failure_reason = VOIDED_CODE, event.reason
        self._observe(event, PaymentStatus.FAILED)

    def record_capture(self, event: PaymentCaptured) -> None:
        # The event carries the captured total, which only grows: a late repeat cannot lower it.
        self.captured_minor = max(self.captured_minor, event.amount_minor)
        self.order_id = self.order_id or event.order_id
        captured = {x.line_no: x.amount_minor for x in event.lines}
        self._check_lines(event, captured)
        self.lines = [
            line.captured(captured[line.line_no]) if line.line_no in captured else line
            for line in self.lines
        ]
        # `partial` says some line failed for good; a CaptureFailed already here says so too.
        some_failed = any(x.capture_status is LineCapture.CAPTURE_FAILED for x in self.lines)
        partly = event.partial or some_failed
        self._observe(event, PaymentStatus.PARTIALLY_CAPTURED if partly else PaymentStatus.CAPTURED)

    def record_capture_failure(self, event: CaptureFailed) -> None:
        self._check_lines(event, [event.line_no])
        self.lines = [x.capture_failed() if x.line_no == event.line_no else x for x in self.lines]
        outcome = capture_outcome(self.lines)
        if outcome is PaymentStatus.FAILED and self.failure_code is None:
            self.failure_code, self.failure_reason = event.code, event.reason
        self._observe(event, outcome)

    def request_refund(
        self,
        *,
        refund_id: str,
        lines: Sequence[tuple[int, int]] | None = None,
        reason: str | None = None,
    ) -> Refund:
        """Asks back `lines` as (line_no, amount_minor), or all that is left when None."""
        if self.status not in REFUNDABLE:
            raise PaymentNotRefundable(
                f"Payment {self.payment_id} is {self.status}; only a payment that is "
                f"{', '.join(sorted(REFUNDABLE))} has captured money left to refund"
            )
        plan = plan_refund(self.line_balances(), self._left_in_total(), lines)
        requested = RefundRequested(
            payment_id=self.payment_id,
            refund_id=refund_id,
            currency=self.currency,
            amount_minor=sum(x.amount_minor for x in plan),
            lines=plan,
            reason=reason,
        )
        refund = Refund(
            refund_id=refund_id,
            amount_minor=requested.amount_minor,
            lines=plan,
            reason=reason,
            requested_at=requested.occurred_at,
            updated_at=requested.occurred_at,
        )
        self.refunds.append(refund)
        self._observe(requested, None)
        self.events.append(requested)
        return refund

    def record_refund(self, event: PaymentRefunded) -> None:
        if not 0 < event.refunded_minor <= event.captured_minor:
            raise ImpossibleRefundTotals(
                f"PaymentRefunded {event.refund_id}: {event.refunded_minor} refunded of "
                f"{event.captured_minor} captured"
            )
        # What went back, not what was asked: a line the provider refused is not in the event, and
        # its amount is released for another refund.
        paid_back = [
            RefundLine(line_no=x.line_no, amount_minor=x.amount_minor) for x in event.lines
        ]
        self._refund(event.refund_id).pay_back(paid_back, event.amount_minor, event.occurred_at)
        # Both totals only grow, and each event has refunded <= captured, so the kept totals do.
        self.captured_minor = max(self.captured_minor, event.captured_minor)
        self.refunded_minor = max(self.refunded_minor, event.refunded_minor)
        fully = self.refunded_minor >= self.captured_minor
        self._observe(event, PaymentStatus.REFUNDED if fully else PaymentStatus.PARTIALLY_REFUNDED)

    def record_refund_failure(self, event: RefundFailed) -> None:
        refund = self._refund(event.refund_id)
        refund.settle(RefundStatus.REFUND_FAILED, event.occurred_at, event.code, event.reason)
        self._observe(event, None)

    def line_balances(self) -> list[LineBalance]:
        return balances(self.lines, self.refunds)

    @property
    def refundable_minor(self) -> int:
        on_lines = sum(b.refundable_minor for b in self.line_balances())
        return max(0, min(on_lines, self._left_in_total()))

    def _left_in_total(self) -> int:
        return self.captured_minor - self.refunded_minor - held_by(self.refunds)

    def _refund(self, refund_id: str) -> Refund:
        refund = next((r for r in self.refunds if r.refund_id == refund_id), None)
        if refund is None:
            raise UnknownRefund(
                f"Refund {refund_id} of payment {self.payment_id}, which the BFF never requested"
            )
        return refund

    def _check_lines(self, event: Event, line_nos: Iterable[int]) -> None:
        known = {x.line_no for x in self.lines}
        unknown = sorted(set(line_nos) - known)
        if unknown:
            raise LineNotInPayment(
                f"{type(event).__name__} names line(s) {unknown} of payment {self.payment_id}, "
                f"which has lines {sorted(known)}"
            )

    def _observe(self, event: Event, signalled: PaymentStatus | None) -> None:
        self.status = advance(self.status, signalled)
        entry = HistoryEntry(
            status=signalled or self.status,
            event=type(event).__name__,
            at=event.occurred_at,
            event_id=event.event_id,
        )
        # Kept in the order things happened, not the order their events arrived in.
        bisect.insort(self.history, entry, key=lambda e: e.at)
        self.updated_at = max(self.updated_at, event.occurred_at)
