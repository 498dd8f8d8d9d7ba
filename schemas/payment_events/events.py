"""The payment events as types: one frozen dataclass per `.avsc` record, same field names.

Pure standard library so that services' domain code can import them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar

# Event ids are derived, never drawn: uuid5 of this namespace and what makes the event one of a
# kind (`Event.occurrence`).
EVENT_NAMESPACE = uuid.UUID("4f6d2a0e-9b1c-5d3e-8a7f-2c4b6e8d0a1f")


def now() -> datetime:
    # Avro timestamp-millis keeps milliseconds; truncating here makes a round trip exact.
    t = datetime.now(UTC)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


@dataclass(frozen=True, kw_only=True)
class Event:
    """An event of one payment. Its id is derived from the payment, the event type and the
    fields in `occurs_once_per` (a refund, a payment order): a service that handles the same
    input again (a replay after its database was restored) records the same event under the
    same id, which every subscriber's inbox then recognises, instead of a second one."""

    payment_id: str
    event_id: str = ""  # derived when not given; decoding gives the one it was published with
    occurred_at: datetime = field(default_factory=now)

    # The fields besides the payment that tell two events of this type apart; none: the payment
    # has at most one.
    occurs_once_per: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        if not self.event_id:
            object.__setattr__(self, "event_id", derived_event_id(self))

    @property
    def occurrence(self) -> str:
        parts = [type(self).__name__, self.payment_id]
        parts += [str(getattr(self, name)) for name in self.occurs_once_per]
        return "/".join(parts)


def derived_event_id(event: Event) -> str:
    return str(uuid.uuid5(EVENT_NAMESPACE, event.occurrence))


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
    occurs_once_per: ClassVar[tuple[str, ...]] = ("payment_order_id",)

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
    occurs_once_per: ClassVar[tuple[str, ...]] = ("refund_id",)

    refund_id: str
    currency: str
    amount_minor: int
    lines: tuple[RefundLine, ...]
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class PaymentRefunded(Event):
    occurs_once_per: ClassVar[tuple[str, ...]] = ("refund_id",)

    refund_id: str
    currency: str
    amount_minor: int
    lines: tuple[RefundedLine, ...]
    refunded_minor: int
    captured_minor: int


@dataclass(frozen=True, kw_only=True)
class RefundFailed(Event):
    occurs_once_per: ClassVar[tuple[str, ...]] = ("refund_id",)

    refund_id: str
    currency: str
    amount_minor: int
    code: str
    reason: str
