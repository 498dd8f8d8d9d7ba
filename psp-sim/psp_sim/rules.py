"""What a test payment method answers, as Stripe's do. Pure. The rules on an authorization's and
a capture's state (what can still be captured, voided or refunded) need the ledger, so they live
in the operation functions the database runs (migration 0003), where they are checked in the same
statement that writes the operation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from psp_sim.errors import InvalidPaymentMethod

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
