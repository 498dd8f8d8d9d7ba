"""Bodies of the checkout-session API: what a product backend prepares, and what its shopper's
page sees and sends."""

from __future__ import annotations

from datetime import datetime  # noqa: TC003 pydantic resolves it at run time
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, Field, Strict

from bff.api.models import PAYMENT_METHOD, PaymentMethod, PaymentTerms, StrictModel
from bff.domain.status import PaymentStatus  # noqa: TC001 pydantic resolves it at run time

if TYPE_CHECKING:
    from bff.domain.checkout import CheckoutSession
    from bff.domain.payment import Payment


class CheckoutSessionRequest(PaymentTerms):
    """What a product backend prepares for its shopper: all but the payment method, which the
    shopper chooses on the checkout page. `return_url` is the page's way back to the shop."""

    expires_in_seconds: Annotated[int, Strict()] = Field(
        1800, ge=60, le=86400, description="how long the checkout URL can be paid"
    )


class CheckoutSessionCreated(BaseModel):
    session_id: str
    checkout_url: str = Field(
        description="for the shopper's browser only: whoever holds it can pay this session; "
        "its key is in the fragment, which browsers never send to a server"
    )
    expires_at: datetime
    status_url: str


class CheckoutLineOut(BaseModel):
    seller_id: str
    amount_minor: int

    @classmethod
    def all_of(cls, checkout: CheckoutSession) -> list[CheckoutLineOut]:
        return [cls(seller_id=x.seller_id, amount_minor=x.amount_minor) for x in checkout.lines]


class CheckoutPaymentOut(BaseModel):
    payment_id: str
    status: PaymentStatus
    failure_code: str | None
    failure_reason: str | None
    sso_token: str | None = Field(description="the shopper's single-use sign-in to the SaaS app")
    redirect_url: str | None = Field(description="where the page POSTs `sso_token` (field token)")


class CheckoutView(BaseModel):
    """A checkout session as its shopper sees it."""

    session_id: str
    currency: str
    amount_minor: int
    lines: list[CheckoutLineOut]
    return_url: str | None
    expires_at: datetime
    expired: bool
    can_pay: bool
    attempts: int
    payment: CheckoutPaymentOut | None

    @classmethod
    def of(cls, checkout: CheckoutSession, payment: Payment | None, now: datetime) -> CheckoutView:
        return cls(
            session_id=checkout.session_id,
            currency=checkout.currency,
            amount_minor=checkout.amount_minor,
            lines=CheckoutLineOut.all_of(checkout),
            return_url=checkout.return_url,
            expires_at=checkout.expires_at,
            expired=checkout.expired(now),
            can_pay=checkout.can_pay(payment.status if payment else None, now),
            attempts=checkout.attempts,
            payment=None
            if payment is None
            else CheckoutPaymentOut(
                payment_id=payment.payment_id,
                status=payment.status,
                failure_code=payment.failure_code,
                failure_reason=payment.failure_reason,
                sso_token=payment.sso_token,
                redirect_url=payment.redirect_url,
            ),
        )


class CheckoutSessionOut(BaseModel):
    """A checkout session as the backend that made it sees it."""

    session_id: str
    customer_id: str
    currency: str
    amount_minor: int
    lines: list[CheckoutLineOut]
    return_url: str | None
    created_at: datetime
    expires_at: datetime
    attempts: int
    payment_id: str | None = Field(description="its last payment; GET /v1/payments/{id} shows it")

    @classmethod
    def of(cls, checkout: CheckoutSession) -> CheckoutSessionOut:
        return cls(
            session_id=checkout.session_id,
            customer_id=checkout.customer_id,
            currency=checkout.currency,
            amount_minor=checkout.amount_minor,
            lines=CheckoutLineOut.all_of(checkout),
            return_url=checkout.return_url,
            created_at=checkout.created_at,
            expires_at=checkout.expires_at,
            attempts=checkout.attempts,
            payment_id=checkout.payment_id,
        )


class CheckoutPaymentRequest(StrictModel):
    """All the shopper chooses; the session fixes the customer and the amounts."""

    payment_method: PaymentMethod = PAYMENT_METHOD
