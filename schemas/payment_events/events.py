"""The payment events as types: one frozen dataclass per `.avsc` record, same field names.

Pure standard library so that services' domain code can import them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime


def new_event_id() -> str:
    return str(uuid.uuid4())


def now() -> datetime:
    # Avro timestamp-millis keeps milliseconds; truncating here makes a round trip exact.
    t = datetime.now(UTC)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


@dataclass(frozen=True, kw_only=True)
class Event:
    payment_id: str
    event_id: str = field(default_factory=new_event_id)
    occurred_at: datetime = field(default_factory=now)


@dataclass(frozen=True, kw_only=True)
class SellerLine:
    line_no: int
    seller_id: str
    amount_minor: int


@dataclass(frozen=True, kw_only=True)
class CapturedLine:
    payment_order_id: str
    line_no: int
    seller_id: str
    amount_minor: int
    capture_id: str


@dataclass(frozen=True, kw_only=True)
class PaymentInitiated(Event):
    customer_id: str
    currency: str
    amount_minor: int
    payment_method: str
    lines: tuple[SellerLine, ...]
    return_url: str | None = None


@dataclass(frozen=True, kw_only=True)
class PaymentSucceeded(Event):
    customer_id: str
    currency: str
    amount_minor: int
    authorization_id: str
    lines: tuple[SellerLine, ...]
    return_url: str | None = None


@dataclass(frozen=True, kw_only=True)
class PaymentFailed(Event):
    code: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class OrderConfirmed(Event):
    order_id: str
    customer_id: str
    currency: str
    amount_minor: int
    authorization_id: str
    lines: tuple[SellerLine, ...]
    sso_token: str
    redirect_url: str


@dataclass(frozen=True, kw_only=True)
class OrderFailed(Event):
    code: str
    reason: str
    order_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class PaymentVoided(Event):
    authorization_id: str
    currency: str
    amount_minor: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class PaymentCaptured(Event):
    order_id: str
    currency: str
    amount_minor: int
    lines: tuple[CapturedLine, ...]
    partial: bool = False


@dataclass(frozen=True, kw_only=True)
class CaptureFailed(Event):
    payment_order_id: str
    line_no: int
    seller_id: str
    currency: str
    amount_minor: int
    code: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class RefundLine:
    line_no: int
    amount_minor: int


@dataclass(frozen=True, kw_only=True)
class RefundedLine:
    payment_order_id: str
    line_no: int
    seller_id: str
    amount_minor: int
    provider_refund_id: str


@dataclass(frozen=True, kw_only=True)
class RefundRequested(Event):
    refund_id: str
    currency: str
    amount_minor: int
    lines: tuple[RefundLine, ...]
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class PaymentRefunded(Event):
    refund_id: str
    currency: str
    amount_minor: int
    lines: tuple[RefundedLine, ...]
    refunded_minor: int
    captured_minor: int


@dataclass(frozen=True, kw_only=True)
class RefundFailed(Event):
    refund_id: str
    currency: str
    amount_minor: int
    code: str
    reason: str
