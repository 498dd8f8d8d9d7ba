"""Request and response bodies of the provider API."""

from __future__ import annotations

from datetime import datetime  # noqa: TC003 pydantic resolves it at run time
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from psp_sim.ledger import Filters, Kind, Operation

Amount = Annotated[int, Field(gt=0, lt=2**63)]  # positive, and within the ledger's BIGINT
NonEmpty = Annotated[str, Field(min_length=1, max_length=255)]


class Strict(BaseModel):
    # Unknown parameters are refused, as Stripe does: a misspelt field must not pass unnoticed.
    model_config = ConfigDict(extra="forbid")


class AuthorizationRequest(Strict):
    amount_minor: Amount
    currency: str = Field(pattern=r"^[A-Za-z]{3}$", description="ISO 4217 code")
    payment_method: NonEmpty = Field(examples=["pm_card_visa"])
    reference: NonEmpty = Field(description="the merchant's payment id")


class CaptureRequest(Strict):
    amount_minor: Amount
    reference: NonEmpty = Field(description="the merchant's payment order id")


class VoidRequest(Strict):
    reference: NonEmpty


class RefundRequest(Strict):
    amount_minor: Amount
    reference: NonEmpty = Field(description="the merchant's refund id")


OperationRequest = AuthorizationRequest | CaptureRequest | VoidRequest | RefundRequest


class OperationQuery(Strict):
    reference: str | None = None
    kind: Kind | None = None
    authorization_id: str | None = None
    capture_id: str | None = None
    idempotency_key: str | None = None

    def filters(self) -> Filters:
        return Filters(**self.model_dump())


class AuthorizationOut(BaseModel):
    id: str
    status: Literal["authorized", "declined"]
    amount_minor: int
    currency: str
    reference: str
    decline_code: str | None
    decline_reason: str | None

    @classmethod
    def of(cls, op: Operation) -> AuthorizationOut:
        return cls.model_validate(op, from_attributes=True)


class CaptureOut(BaseModel):
    id: str
    authorization_id: str
    amount_minor: int
    reference: str
    status: Literal["succeeded"]

    @classmethod
    def of(cls, op: Operation) -> CaptureOut:
        return cls.model_validate(op, from_attributes=True)


class VoidOut(BaseModel):
    id: str
    authorization_id: str
    status: Literal["succeeded"]

    @classmethod
    def of(cls, op: Operation) -> VoidOut:
        return cls.model_validate(op, from_attributes=True)


class RefundOut(BaseModel):
    id: str
    capture_id: str
    amount_minor: int
    currency: str
    status: Literal["refunded"]
    created_at: datetime

    @classmethod
    def of(cls, op: Operation) -> RefundOut:
        return cls.model_validate(op, from_attributes=True)


class OperationOut(BaseModel):
    kind: Kind
    id: str
    idempotency_key: str
    reference: str
    authorization_id: str
    capture_id: str | None = Field(description="the capture a refund gives money back from")
    amount_minor: int | None
    currency: str
    status: str
    decline_code: str | None
    decline_reason: str | None
    created_at: datetime


class OperationList(BaseModel):
    operations: list[OperationOut]


class ErrorOut(BaseModel):
    code: str
    message: str
