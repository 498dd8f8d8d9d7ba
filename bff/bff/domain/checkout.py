"""A checkout session: a payment a product backend prepared for one of its customers, which the
shopper's browser pays holding only the session's capability, the key in its checkout URL.

The backend fixes who pays and how much; the browser only chooses the payment method. A session
makes at most one payment at a time: a second one is refused while the first may still take
money, and a declined card may be followed by another, a few times, until the session expires.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bff.domain.errors import CheckoutAttemptsExhausted, CheckoutSessionExpired, CheckoutSessionPaid
from bff.domain.payment import NewPayment, accept_payment
from bff.domain.status import PaymentStatus

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime, timedelta

# Payments one session may make: each after the previous one was declined. A card-testing
# script holding one checkout URL gets no more tries than a shopper with a few cards.
MAX_ATTEMPTS = 5
# Only a decline leaves the money untouched and the shopper free to try another card; a failed
# order or a refund ends the session.
RETRYABLE = frozenset({PaymentStatus.DECLINED})


@dataclass(frozen=True)
class CheckoutLine:
    seller_id: str
    amount_minor: int


def key_digest(key: str) -> str:
    # Only the digest is stored: the database's copy opens no checkout. The key carries 256
    # random bits, so a plain hash is enough (no password stretching needed).
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(eq=False)
class CheckoutSession:
    session_id: str
    client_id: str
    customer_id: str
    currency: str
    lines: list[CheckoutLine]
    return_url: str | None
    key_digest: str
    created_at: datetime
    expires_at: datetime
    payment_id: str | None = None
    attempts: int = 0

    @classmethod
    def open(
        cls,
        *,
        session_id: str,
        client_id: str,
        customer_id: str,
        currency: str,
        lines: Sequence[CheckoutLine],
        return_url: str | None,
        now: datetime,
        lifetime: timedelta,
    ) -> tuple[CheckoutSession, str]:
        """A new session and its key, which is handed out once (in the checkout URL)."""
        key = secrets.token_urlsafe(32)
        session = cls(
            session_id=session_id,
            client_id=client_id,
            customer_id=customer_id,
            currency=currency,
            lines=list(lines),
            return_url=return_url,
            key_digest=key_digest(key),
            created_at=now,
            expires_at=now + lifetime,
        )
        return session, key

    @property
    def amount_minor(self) -> int:
        return sum(x.amount_minor for x in self.lines)

    def admits(self, key: str) -> bool:
        return hmac.compare_digest(key_digest(key), self.key_digest)

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def can_pay(self, last_status: PaymentStatus | None, now: datetime) -> bool:
        return self._refusal(last_status, now) is None

    def pay(
        self,
        *,
        payment_id: str,
        payment_method: str,
        last_status: PaymentStatus | None,
        now: datetime,
    ) -> NewPayment:
        """The session's next payment, with its customer and amounts; `last_status` is the status
        of the payment it made last (`payment_id`), if any."""
        refusal = self._refusal(last_status, now)
        if refusal is not None:
            raise refusal
        payment = accept_payment(
            payment_id=payment_id,
            client_id=self.client_id,
            customer_id=self.customer_id,
            currency=self.currency,
            payment_method=payment_method,
            amounts=[(x.seller_id, x.amount_minor) for x in self.lines],
            return_url=self.return_url,
        )
        self.payment_id = payment_id
        self.attempts += 1
        return payment

    def _refusal(
        self, last_status: PaymentStatus | None, now: datetime
    ) -> CheckoutSessionPaid | CheckoutSessionExpired | CheckoutAttemptsExhausted | None:
        if last_status is not None and last_status not in RETRYABLE:
            return CheckoutSessionPaid(
                f"Checkout session {self.session_id} already has payment {self.payment_id} "
                f"({last_status}); it makes no second one"
            )
        if self.expired(now):
            return CheckoutSessionExpired(
                f"Checkout session {self.session_id} expired at {self.expires_at.isoformat()}; "
                "nothing was charged. Ask the shop for a new checkout link"
            )
        if self.attempts >= MAX_ATTEMPTS:
            return CheckoutAttemptsExhausted(
                f"Checkout session {self.session_id} has tried {self.attempts} payments; "
                "ask the shop for a new checkout link"
            )
        return None
