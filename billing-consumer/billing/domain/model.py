"""The authorization aggregate: money held at the provider for one payment.

REQUESTED -> AUTHORIZED -> VOIDED, REQUESTED -> DECLINED (the provider said no), or
REQUESTED -> FAILED (the provider could not be reached for as long as retries last). Each
transition records the event other services react to; the unit of work writes them to the
outbox with the state change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from billing.domain.errors import InvalidTransition
from payment_events.events import (
    Event,
    PaymentFailed,
    PaymentInitiated,
    PaymentSucceeded,
    PaymentVoided,
)


class AuthorizationStatus(StrEnum):
    REQUESTED = "REQUESTED"
    AUTHORIZED = "AUTHORIZED"
    DECLINED = "DECLINED"
    VOIDED = "VOIDED"
    FAILED = "FAILED"


ALLOWED: dict[AuthorizationStatus, set[AuthorizationStatus]] = {
    AuthorizationStatus.REQUESTED: {
        AuthorizationStatus.AUTHORIZED,
        AuthorizationStatus.DECLINED,
        AuthorizationStatus.FAILED,
    },
    AuthorizationStatus.AUTHORIZED: {AuthorizationStatus.VOIDED},
    AuthorizationStatus.DECLINED: set(),
    AuthorizationStatus.VOIDED: set(),
    AuthorizationStatus.FAILED: set(),
}


@dataclass(eq=False)
class Authorization:
    payment_id: str
    customer_id: str
    currency: str
    amount_minor: int
    payment_method: str
    status: AuthorizationStatus = AuthorizationStatus.REQUESTED
    provider_authorization_id: str | None = None
    decline_code: str | None = None
    decline_reason: str | None = None
    events: list[Event] = field(default_factory=list)

    @classmethod
    def request(cls, initiated: PaymentInitiated) -> Authorization:
        return cls(
            payment_id=initiated.payment_id,
            customer_id=initiated.customer_id,
            currency=initiated.currency,
            amount_minor=initiated.amount_minor,
            payment_method=initiated.payment_method,
        )

    @property
    def idempotency_key_authorize(self) -> str:
        return f"{self.payment_id}:authorize"

    @property
    def idempotency_key_void(self) -> str:
        return f"{self.payment_id}:void"

    def succeed(self, provider_authorization_id: str, initiated: PaymentInitiated) -> None:
        self._move(AuthorizationStatus.AUTHORIZED)
        self.provider_authorization_id = provider_authorization_id
        self.events.append(
            PaymentSucceeded(
                payment_id=self.payment_id,
                customer_id=self.customer_id,
                currency=self.currency,
                amount_minor=self.amount_minor,
                authorization_id=provider_authorization_id,
                lines=initiated.lines,
                return_url=initiated.return_url,
            )
        )

    def decline(self, code: str, reason: str) -> None:
        self._move(AuthorizationStatus.DECLINED)
        self.decline_code, self.decline_reason = code, reason
        self.events.append(PaymentFailed(payment_id=self.payment_id, code=code, reason=reason))

    def fail(self, code: str, reason: str) -> None:
        """No answer from the provider in time: the payment fails without a hold we know of."""
        self._move(AuthorizationStatus.FAILED)
        self.decline_code, self.decline_reason = code, reason
        self.events.append(PaymentFailed(payment_id=self.payment_id, code=code, reason=reason))

    def void(self, reason: str) -> None:
        self._move(AuthorizationStatus.VOIDED)
        assert self.provider_authorization_id is not None  # every AUTHORIZED one has it
        self.events.append(
            PaymentVoided(
                payment_id=self.payment_id,
                authorization_id=self.provider_authorization_id,
                currency=self.currency,
                amount_minor=self.amount_minor,
                reason=reason,
            )
        )

    def _move(self, to: AuthorizationStatus) -> None:
        if to not in ALLOWED[self.status]:
            raise InvalidTransition(f"payment {self.payment_id}: {self.status} -> {to}")
        self.status = to
