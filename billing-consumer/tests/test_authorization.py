"""The authorization aggregate, in memory."""

from __future__ import annotations

import pytest

from billing.domain.errors import InvalidTransition
from billing.domain.model import Authorization, AuthorizationStatus
from payment_events.events import (
    PaymentFailed,
    PaymentInitiated,
    PaymentSucceeded,
    PaymentVoided,
    SellerLine,
)


def initiated() -> PaymentInitiated:
    return PaymentInitiated(
        payment_id="5d0c6f4e-57b5-4b7c-9d8e-0f1a2b3c4d5e",
        customer_id="cus_1",
        currency="EUR",
        amount_minor=1500,
        payment_method="pm_card_visa",
        lines=(
            SellerLine(line_no=0, seller_id="s1", amount_minor=1000),
            SellerLine(line_no=1, seller_id="s2", amount_minor=500),
        ),
        return_url="https://shop.example/return",
    )


def test_a_successful_authorization_records_payment_succeeded_with_the_lines() -> None:
    event = initiated()
    auth = Authorization.request(event)
    auth.succeed("auth_1", event)
    assert auth.status is AuthorizationStatus.AUTHORIZED
    [recorded] = auth.events
    assert isinstance(recorded, PaymentSucceeded)
    assert recorded.authorization_id == "auth_1"
    assert recorded.lines == event.lines
    assert recorded.amount_minor == 1500


def test_a_decline_records_payment_failed_with_code_and_reason() -> None:
    auth = Authorization.request(initiated())
    auth.decline("card_declined", "Your card was declined.")
    [recorded] = auth.events
    assert isinstance(recorded, PaymentFailed)
    assert (recorded.code, recorded.reason) == ("card_declined", "Your card was declined.")


def test_only_an_authorized_payment_can_be_voided() -> None:
    event = initiated()
    declined = Authorization.request(event)
    declined.decline("card_declined", "no")
    with pytest.raises(InvalidTransition):
        declined.void("order refused")

    held = Authorization.request(event)
    held.succeed("auth_1", event)
    held.void("order refused")
    assert held.status is AuthorizationStatus.VOIDED
    assert isinstance(held.events[-1], PaymentVoided)


def test_a_settled_authorization_cannot_be_settled_again() -> None:
    event = initiated()
    auth = Authorization.request(event)
    auth.succeed("auth_1", event)
    with pytest.raises(InvalidTransition):
        auth.decline("card_declined", "late")
    with pytest.raises(InvalidTransition):
        auth.succeed("auth_2", event)
