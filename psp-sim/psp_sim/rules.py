"""The provider's rules: what a test payment method answers, when an authorization can still be
captured or voided, and how much of a capture can still be refunded. Pure; the ledger supplies
the state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from psp_sim.errors import (
    AmountExceedsAuthorization,
    AuthorizationNotCapturable,
    AuthorizationNotVoidable,
    InvalidPaymentMethod,
    RefundExceedsCapture,
)

AuthorizationStatus = Literal["authorized", "declined"]


@dataclass(frozen=True)
class Outcome:
    status: AuthorizationStatus
    decline_code: str | None = None
    decline_reason: str | None = None


# Stripe's test payment methods, with Stripe's decline codes and messages.
TEST_PAYMENT_METHODS: dict[str, Outcome] = {
    "pm_card_visa": Outcome("authorized"),
    "pm_card_declined": Outcome("declined", "card_declined", "Your card was declined."),
    "pm_card_insufficient_funds": Outcome(
        "declined", "insufficient_funds", "Your card has insufficient funds."
    ),
}


def authorization_outcome(payment_method: str) -> Outcome:
    outcome = TEST_PAYMENT_METHODS.get(payment_method)
    if outcome is None:
        known = ", ".join(TEST_PAYMENT_METHODS)
        raise InvalidPaymentMethod(
            f"No such payment method: {payment_method!r}; use one of {known}"
        )
    return outcome


@dataclass(frozen=True)
class HeldAuthorization:
    """An authorization as its ledger rows show it."""

    id: str
    status: AuthorizationStatus
    amount_minor: int
    currency: str
    captured_minor: int
    voided: bool

    @property
    def state(self) -> str:
        if self.voided:
            return "voided"
        if self.captured_minor > 0:
            return "captured"
        return self.status

    @property
    def capturable_minor(self) -> int:
        return self.amount_minor - self.captured_minor


def check_capture(held: HeldAuthorization, amount_minor: int) -> None:
    # Partial captures may follow one another while their sum stays within the hold.
    if held.state not in ("authorized", "captured"):
        raise AuthorizationNotCapturable(
            f"Authorization {held.id} is {held.state}; it cannot be captured"
        )
    if amount_minor > held.capturable_minor:
        raise AmountExceedsAuthorization(
            f"Cannot capture {amount_minor}: authorization {held.id} has "
            f"{held.capturable_minor} of {held.amount_minor} left to capture"
        )


def check_void(held: HeldAuthorization) -> None:
    if held.state != "authorized":
        raise AuthorizationNotVoidable(
            f"Authorization {held.id} is {held.state}; it cannot be voided"
        )


@dataclass(frozen=True)
class RefundableCapture:
    """A capture as its ledger rows show it: what it took, and what was given back so far."""

    id: str
    authorization_id: str
    amount_minor: int
    currency: str
    refunded_minor: int

    @property
    def refundable_minor(self) -> int:
        return self.amount_minor - self.refunded_minor


def check_refund(capture: RefundableCapture, amount_minor: int) -> None:
    # Partial refunds may follow one another while their sum stays within the capture.
    if amount_minor > capture.refundable_minor:
        raise RefundExceedsCapture(
            f"Cannot refund {amount_minor}: capture {capture.id} has "
            f"{capture.refundable_minor} of {capture.amount_minor} left to refund"
        )
