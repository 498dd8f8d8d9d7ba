"""The BFF's named errors, each with a stable machine code; `bff.api.errors` maps them to HTTP."""

from __future__ import annotations

from paykit.errors import ImpossibleEvent, PaymentsError


class IdempotencyKeyReused(PaymentsError):
    code = "idempotency_key_reused"


class PaymentNotFound(PaymentsError):
    code = "payment_not_found"


class UnknownPayment(ImpossibleEvent):
    """A downstream event for a payment the BFF never accepted: its events are only published
    after the BFF committed the payment, so this cannot be a race, only a foreign message."""

    code = "unknown_payment"
