"""The current flow, inline: authorize the total, create and confirm the order, capture every
seller line, then answer. Whatever the provider cannot do now fails the request with 503: unlike
the event-driven design there is nothing to park the payment on and retry from later."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from bff.domain.idempotency import Answer, fingerprint
from capture.domain.payment_order import payment_order_id_for
from payctl.baseline.errors import CheckoutRefused
from payctl.baseline.store import CheckoutStatus, NewCheckout
from paykit.provider import ProviderRejected, ProviderUnavailable

if TYPE_CHECKING:
    from bff.api.models import PaymentRequest
    from orders.adapters.sso import SsoIssuer
    from payctl.baseline.store import CheckoutStore
    from paykit.provider import ProviderClient

log = structlog.get_logger()

# Fixed: ids derive from them, so a repeat of a request is the same payment and finds the order
# its first attempt created.
PAYMENT_NAMESPACE = uuid.UUID("6f1d3c2e-5b0a-4d8e-9a41-2c7f0e9b6d15")
ORDER_NAMESPACE = uuid.UUID("b3e2a7c4-1f6d-4e09-8c5a-7d2e9f4b1a36")
CAPTURE_SUCCEEDED = "succeeded"


def payment_id_for(idempotency_key: str) -> str:
    return str(uuid.uuid5(PAYMENT_NAMESPACE, idempotency_key))


def order_id_for(payment_id: str) -> str:
    return str(uuid.uuid5(ORDER_NAMESPACE, payment_id))


@dataclass(frozen=True)
class Reply:
    answer: Answer
    replayed: bool


def check_out(
    request: PaymentRequest,
    idempotency_key: str,
    arrived: float,
    store: CheckoutStore,
    provider: ProviderClient,
    sso: SsoIssuer,
) -> Reply:
    """`arrived` is the `time.perf_counter()` at which the request arrived: the answer's times
    are measured from it."""
    payment_id = payment_id_for(idempotency_key)
    first = store.claim(
        NewCheckout(
            payment_id=payment_id,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint(request.model_dump(mode="json")),
            customer_id=request.customer_id,
            currency=request.currency,
            amount_minor=sum(line.amount_minor for line in request.lines),
        )
    )
    if first is not None:
        return Reply(first, replayed=True)
    try:
        answer = _pay(payment_id, request, arrived, store, provider, sso)
    except ProviderUnavailable as e:
        store.release(payment_id)
        log.warning("checkout_provider_unavailable", payment_id=payment_id, error=str(e)[:300])
        body = {
            "code": "provider_unavailable",
            "message": "The payment provider is unavailable; retry with the same Idempotency-Key",
        }
        return Reply(Answer(503, body), replayed=False)
    except CheckoutRefused as e:
        log.warning("checkout_refused", payment_id=payment_id, code=e.code)
        answer = store.finish(
            payment_id, CheckoutStatus.REJECTED, Answer(422, {"code": e.code, "message": e.message})
        )
    return Reply(answer, replayed=False)


def _pay(
    payment_id: str,
    request: PaymentRequest,
    arrived: float,
    store: CheckoutStore,
    provider: ProviderClient,
    sso: SsoIssuer,
) -> Answer:
    amount_minor = sum(line.amount_minor for line in request.lines)
    try:
        authorization = provider.authorize(
            idempotency_key=f"{payment_id}:authorize",
            amount_minor=amount_minor,
            currency=request.currency,
            payment_method=request.payment_method,
            reference=payment_id,
        )
    except ProviderRejected as e:
        raise CheckoutRefused(e.code, e.message) from e
    if authorization.status == "declined":
        log.info("checkout_declined", payment_id=payment_id, code=authorization.decline_code)
        decline = {
            "code": authorization.decline_code or "card_declined",
            "message": authorization.decline_reason or "The card was declined.",
        }
        return store.finish(
            payment_id,
            CheckoutStatus.DECLINED,
            Answer(402, decline),
            authorization_id=authorization.id,
        )

    order_id = order_id_for(payment_id)
    store.create_order(
        order_id=order_id,
        payment_id=payment_id,
        customer_id=request.customer_id,
        currency=request.currency,
        amount_minor=amount_minor,
        authorization_id=authorization.id,
        lines=[line.model_dump() for line in request.lines],
    )
    token = sso.issue(order_id=order_id, payment_id=payment_id, customer_id=request.customer_id)
    store.confirm_order(order_id, token.jti)
    order_confirmed_ms = _ms_since(arrived)

    for line_no, line in enumerate(request.lines):
        try:
            capture = provider.capture(
                idempotency_key=f"{payment_id}:capture:{line_no}",
                authorization_id=authorization.id,
                amount_minor=line.amount_minor,
                reference=payment_order_id_for(payment_id, line_no),
            )
        except ProviderRejected as e:
            raise CheckoutRefused(e.code, e.message) from e
        if capture.status != CAPTURE_SUCCEEDED:
            reason = f"line {line_no}: the provider says {capture.status}"
            raise CheckoutRefused("capture_failed", reason)
    captured_ms = _ms_since(arrived)

    log.info("checkout_captured", payment_id=payment_id, order_id=order_id, captured_ms=captured_ms)
    body = {
        "payment_id": payment_id,
        "status": CheckoutStatus.CAPTURED.value,
        "order_id": order_id,
        "order_confirmed_ms": order_confirmed_ms,
        "captured_ms": captured_ms,
        "sso_token": token.token,
        "redirect_url": token.redirect_url,
    }
    return store.finish(
        payment_id,
        CheckoutStatus.CAPTURED,
        Answer(200, body),
        authorization_id=authorization.id,
        order_id=order_id,
        captured_minor=amount_minor,
    )


def _ms_since(arrived: float) -> float:
    return round((time.perf_counter() - arrived) * 1000, 3)
