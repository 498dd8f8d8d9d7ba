"""Request and response bodies of the provider API. Operation requests are msgspec structs,
decoded and checked in one pass (a pydantic model per request cost more than the rest of the
route); the answers are built by the database, and the pydantic models here document them.
"""

from __future__ import annotations

from datetime import datetime  # noqa: TC003 pydantic resolves it at run time
from typing import Annotated, Any, Literal

import msgspec
from pydantic import BaseModel, ConfigDict, Field

from psp_sim.ledger import Filters
from psp_sim.operations import Kind  # noqa: TC001 pydantic resolves it at run time

# Positive, and within the ledger's BIGINT.
Amount = Annotated[int, msgspec.Meta(gt=0, le=2**63 - 1)]
NonEmpty = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z]{3}$", description="ISO 4217 code")]


# Unknown parameters are refused, as Stripe does: a misspelt field must not pass unnoticed.
class AuthorizationRequest(msgspec.Struct, forbid_unknown_fields=True):
    amount_minor: Amount
    currency: Currency
    payment_method: Annotated[NonEmpty, msgspec.Meta(examples=["pm_card_visa"])]
    reference: Annotated[NonEmpty, msgspec.Meta(description="the merchant's payment id")]


class CaptureRequest(msgspec.Struct, forbid_unknown_fields=True):
    amount_minor: Amount
    reference: Annotated[NonEmpty, msgspec.Meta(description="the merchant's payment order id")]


class VoidRequest(msgspec.Struct, forbid_unknown_fields=True):
    reference: NonEmpty


class RefundRequest(msgspec.Struct, forbid_unknown_fields=True):
    amount_minor: Amount
    reference: Annotated[NonEmpty, msgspec.Meta(description="the merchant's refund id")]


OperationRequest = AuthorizationRequest | CaptureRequest | VoidRequest | RefundRequest


def request_body_schema(request_type: type[OperationRequest]) -> dict[str, Any]:
    """The OpenAPI `requestBody` of an operation route, from its struct."""
    _, components = msgspec.json.schema_components([request_type])
    schema = components[request_type.__name__]
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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


class CaptureOut(BaseModel):
    id: str
    authorization_id: str
    amount_minor: int
    reference: str
    status: Literal["succeeded"]


class VoidOut(BaseModel):
    id: str
    authorization_id: str
    status: Literal["succeeded"]


class RefundOut(BaseModel):
    id: str
    capture_id: str
    amount_minor: int
    currency: str
    status: Literal["refunded"]
    created_at: datetime


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
