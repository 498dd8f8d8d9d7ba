"""The payment as the BFF sees it: the accepted request and the status read model that the
downstream events build up. Accepting records `PaymentInitiated`; the unit of work writes it to
the outbox in the same transaction as the payment row.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bff.domain.status import PaymentStatus, advance
from payment_events.events import PaymentInitiated, SellerLine

if TYPE_CHECKING:
    from datetime import datetime

    from payment_events.events import (
        CaptureFailed,
        Event,
        OrderConfirmed,
        OrderFailed,
        PaymentCaptured,
        PaymentFailed,
        PaymentSucceeded,
        PaymentVoided,
    )

# A void without the OrderFailed that caused it (still on its way, on another topic).
VOIDED_CODE = "authorization_voided"


@dataclass(eq=False)
class HistoryEntry:
    status: PaymentStatus
    event: str
    at: datetime
    event_id: str


@dataclass(eq=False)
class Payment:
    payment_id: str
    client_id: str
    customer_id: str
    currency: str
    amount_minor: int
    lines: list[SellerLine]
    return_url: str | None
    created_at: datetime
    updated_at: datetime
    status: PaymentStatus = PaymentStatus.PROCESSING
    authorized_minor: int = 0
    captured_minor: int = 0
    order_id: str | None = None
    sso_token: str | None = None
    redirect_url: str | None = None
    failure_code: str | None = None
    failure_reason: str | None = None
    history: list[HistoryEntry] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    @classmethod
    def accept(
        cls,
        *,
        payment_id: str,
        client_id: str,
        customer_id: str,
        currency: str,
        payment_method: str,
        amounts: list[tuple[str, int]],
        return_url: str | None,
    ) -> Payment:
        """A new payment from the request; `amounts` are (seller_id, amount_minor) in order."""
        lines = [
            SellerLine(line_no=n, seller_id=seller_id, amount_minor=amount)
            for n, (seller_id, amount) in enumerate(amounts)
        ]
        initiated = PaymentInitiated(
            payment_id=payment_id,
            customer_id=customer_id,
            currency=currency,
            amount_minor=sum(line.amount_minor for line in lines),
            # The method token travels in the event only: the read model never shows it.
            payment_method=payment_method,
            lines=tuple(lines),
            return_url=return_url,
        )
        payment = cls(
            payment_id=payment_id,
            client_id=client_id,
            customer_id=customer_id,
            currency=currency,
            amount_minor=initiated.amount_minor,
            lines=lines,
            return_url=return_url,
            created_at=initiated.occurred_at,
            updated_at=initiated.occurred_at,
        )
        payment._observe(initiated, PaymentStatus.PROCESSING)
        payment.events.append(initiated)
        return payment

    def record_authorization(self, event: PaymentSucceeded) -> None:
        self.authorized_minor = event.amount_minor
        self._observe(event, PaymentStatus.AUTHORIZED)

    def record_decline(self, event: PaymentFailed) -> None:
        self.failure_code, self.failure_reason = event.code, event.reason
        self._observe(event, PaymentStatus.DECLINED)

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
        self._observe(event, PaymentStatus.CAPTURED)

    def record_capture_failure(self, event: CaptureFailed) -> None:
        self._observe(event, None)

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
