"""billing's handlers: one per event it consumes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from billing.domain.errors import UnknownPayment
from billing.domain.model import Authorization, AuthorizationStatus
from payment_events.events import Event, OrderFailed, PaymentInitiated

if TYPE_CHECKING:
    from collections.abc import Callable

    from billing.adapters.provider import PaymentProvider
    from billing.unit_of_work import BillingUnitOfWork

log = structlog.get_logger()


def authorize_payment(
    event: PaymentInitiated, uow: BillingUnitOfWork, provider: PaymentProvider
) -> None:
    authorization = uow.authorizations.get(event.payment_id)
    if authorization is None:
        authorization = Authorization.request(event)
        uow.authorizations.add(authorization)
    elif authorization.status is not AuthorizationStatus.REQUESTED:
        log.info("authorization_already_settled", status=authorization.status)
        return
    # The idempotency key makes a retry after a crash return the first answer, never a new hold.
    result = provider.authorize(
        idempotency_key=authorization.idempotency_key_authorize,
        amount_minor=authorization.amount_minor,
        currency=authorization.currency,
        payment_method=authorization.payment_method,
        reference=authorization.payment_id,
    )
    if result.status == "authorized":
        authorization.succeed(result.id, event)
        log.info("payment_authorized", amount_minor=authorization.amount_minor)
    else:
        authorization.decline(result.decline_code or "declined", result.decline_reason or "")
        log.info("payment_declined", code=authorization.decline_code)
    uow.record(*authorization.events)


def void_authorization(
    event: OrderFailed, uow: BillingUnitOfWork, provider: PaymentProvider
) -> None:
    authorization = uow.authorizations.get(event.payment_id)
    if authorization is None:
        raise UnknownPayment(f"OrderFailed for payment {event.payment_id} billing never saw")
    if authorization.status is AuthorizationStatus.VOIDED:
        return
    authorization.void(event.reason)  # raises InvalidTransition unless AUTHORIZED
    held = authorization.provider_authorization_id
    assert held is not None  # every AUTHORIZED authorization has one
    provider.void(
        idempotency_key=authorization.idempotency_key_void,
        authorization_id=held,
        reference=authorization.payment_id,
    )
    log.info("authorization_voided", reason=event.reason)
    uow.record(*authorization.events)


HANDLERS: dict[type[Event], Callable[..., None]] = {
    PaymentInitiated: authorize_payment,
    OrderFailed: void_authorization,
}
