"""Request and response bodies of the API. Types and ranges are checked here; the rules beyond
them live in `bff.domain.payment_request` (called from the validators) and `bff.domain.refund`."""

from __future__ import annotations

from datetime import datetime  # noqa: TC003 pydantic resolves it at run time
from typing import TYPE_CHECKING, Annotated

import pycountry
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, HttpUrl, Strict
from pydantic_core import PydanticCustomError

from bff.domain.line import LineCapture  # noqa: TC001 pydantic resolves it at run time
from bff.domain.payment_request import MAX_TOTAL_MINOR, check_payment_method, check_total
from bff.domain.refund import RefundStatus  # noqa: TC001 pydantic resolves it at run time
from bff.domain.status import PaymentStatus  # noqa: TC001 pydantic resolves it at run time

if TYPE_CHECKING:
    from bff.domain.payment import Payment
    from bff.domain.refund import Refund

# ISO 4217 lists these, but a shopper cannot pay in them: precious metals, bond-market and
# accounting units, special drawing rights, and the codes for testing and for "no currency".
NOT_MONEY = frozenset("XAD XAG XAU XBA XBB XBC XBD XDR XPD XPT XSU XTS XUA XXX".split())


def _currency(code: str) -> str:
    # pycountry matches case-insensitively; the API takes the canonical upper-case code only,
    # so that one payment has one spelling in its idempotency fingerprint.
    if code != code.upper() or code in NOT_MONEY or pycountry.currencies.get(alpha_3=code) is None:
        raise PydanticCustomError(
            "invalid_currency", "currency must be an ISO 4217 code in upper case, e.g. EUR"
        )
    return code


def _trimmed(value: str) -> str:
    if value != value.strip():
        raise PydanticCustomError(
            "invalid_format", "must not be blank nor start or end with whitespace"
        )
    return value


def _payment_method(token: str) -> str:
    problem = check_payment_method(token)
    if problem is not None:
        raise PydanticCustomError(problem.code, problem.message)
    return token


Identifier = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_trimmed)]
AmountMinor = Annotated[int, Strict(), Field(gt=0, le=MAX_TOTAL_MINOR)]
RefundReason = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_trimmed)]


class StrictModel(BaseModel):
    # Unknown fields are refused: a misspelt optional field must not pass unnoticed.
    model_config = ConfigDict(extra="forbid")


class LineIn(StrictModel):
    seller_id: Identifier = Field(examples=["seller_42"])
    amount_minor: AmountMinor = Field(description="in the currency's minor unit", examples=[1999])


def _total(lines: list[LineIn]) -> list[LineIn]:
    problem = check_total(line.amount_minor for line in lines)
    if problem is not None:
        raise PydanticCustomError(problem.code, problem.message)
    return lines


PaymentMethod = Annotated[str, Field(max_length=255), AfterValidator(_payment_method)]
PAYMENT_METHOD = Field(
    description="the provider's token, never a card number", examples=["pm_card_visa"]
)


class PaymentTerms(StrictModel):
    """Who pays what to whom: a payment request but its payment method."""

    customer_id: Identifier = Field(examples=["cus_123"])
    currency: Annotated[str, AfterValidator(_currency)] = Field(examples=["EUR"])
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=100), AfterValidator(_total)]
    return_url: HttpUrl | None = Field(None, examples=["https://shop.example/thanks"])


class PaymentRequest(PaymentTerms):
    payment_method: PaymentMethod = PAYMENT_METHOD


class PaymentAccepted(BaseModel):
    payment_id: str
    status: PaymentStatus
    status_url: str


class RefundLineIn(StrictModel):
    line_no: Annotated[int, Strict()] = Field(examples=[0])
    amount_minor: AmountMinor = Field(description="in the currency's minor unit", examples=[500])


class RefundRequest(StrictModel):
    lines: Annotated[list[RefundLineIn], Field(min_length=1, max_length=100)] | None = Field(
        None, description="what to refund of which seller line; absent: all that is left"
    )
    reason: RefundReason | None = Field(None, examples=["returned by the customer"])


class RefundLineOut(BaseModel):
    line_no: int
    amount_minor: int


class RefundAccepted(BaseModel):
    refund_id: str
    payment_id: str
    status: RefundStatus
    amount_minor: int
    lines: list[RefundLineOut]
    status_url: str


class RefundOut(BaseModel):
    refund_id: str
    status: RefundStatus
    amount_minor: int
    lines: list[RefundLineOut]
    reason: str | None
    failure_code: str | None
    failure_reason: str | None
    requested_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, refund: Refund) -> RefundOut:
        return cls(
            refund_id=refund.refund_id,
            status=refund.status,
            amount_minor=refund.amount_minor,
            lines=[
                RefundLineOut(line_no=x.line_no, amount_minor=x.amount_minor) for x in refund.lines
            ],
            reason=refund.reason,
            failure_code=refund.failure_code,
            failure_reason=refund.failure_reason,
            requested_at=refund.requested_at,
            updated_at=refund.updated_at,
        )


class LineOut(BaseModel):
    line_no: int
    seller_id: str
    amount_minor: int
    capture_status: LineCapture
    captured_minor: int
    refunded_minor: int
    refundable_minor: int


class HistoryEntryOut(BaseModel):
    status: PaymentStatus
    event: str
    at: datetime


class PaymentStatusOut(BaseModel):
    payment_id: str
    status: PaymentStatus
    history: list[HistoryEntryOut]
    currency: str
    amount_minor: int
    authorized_minor: int
    captured_minor: int
    refunded_minor: int
    refundable_minor: int
    lines: list[LineOut]
    refunds: list[RefundOut]
    order_id: str | None
    sso_token: str | None
    redirect_url: str | None
    failure_code: str | None
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, payment: Payment) -> PaymentStatusOut:
        balances = {b.line_no: b for b in payment.line_balances()}
        return cls(
            payment_id=payment.payment_id,
            status=payment.status,
            history=[
                HistoryEntryOut(status=h.status, event=h.event, at=h.at) for h in payment.history
            ],
            currency=payment.currency,
            amount_minor=payment.amount_minor,
            authorized_minor=payment.authorized_minor,
            captured_minor=payment.captured_minor,
            refunded_minor=payment.refunded_minor,
            refundable_minor=payment.refundable_minor,
            lines=[
                LineOut(
                    line_no=x.line_no,
                    seller_id=x.seller_id,
                    amount_minor=x.amount_minor,
                    capture_status=x.capture_status,
                    captured_minor=x.captured_minor,
                    refunded_minor=balances[x.line_no].refunded_minor,
                    refundable_minor=balances[x.line_no].refundable_minor,
                )
                for x in payment.lines
            ],
            refunds=[RefundOut.of(r) for r in payment.refunds],
            order_id=payment.order_id,
            sso_token=payment.sso_token,
            redirect_url=payment.redirect_url,
            failure_code=payment.failure_code,
            failure_reason=payment.failure_reason,
            created_at=payment.created_at,
            updated_at=payment.updated_at,
        )


class ErrorOut(BaseModel):
    code: str
    message: str


class FieldError(BaseModel):
    field: str
    code: str
    message: str


class ValidationErrorOut(ErrorOut):
    errors: list[FieldError]


class LiveOut(BaseModel):
    status: str = Field(examples=["ok"])


class HealthOut(LiveOut):
    checks: dict[str, str] = Field(
        description="each dependency and how it answered: `ok` or why not",
        examples=[{"database": "ok"}],
    )


class UnhealthyOut(ErrorOut, HealthOut):
    pass
