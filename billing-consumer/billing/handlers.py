"""billing's handlers: one per event it consumes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from billing.domain.errors import UnknownPayment
from billing.domain.model import Authorization, AuthorizationStatus
from paykit.errors import RetryLater
from paykit.provider import Authorization as ProviderAuthorization
from paykit.provider import ProviderUnavailable
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
    # A retry may follow a call whose outcome is unknown (a timeout): ask the provider what it
    # did before asking it to act. The idempotency key covers a crash mid-call as well.
    result = settled_authorization(provider, authorization) if uow.may_have_acted else None
    if result is None:
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


def settled_authorization(
    provider: PaymentProvider, authorization: Authorization
) -> ProviderAuthorization | None:
    """The provider's answer to an earlier authorize call under this key, if it got one."""
    for op in provider.find_operations(authorization.idempotency_key_authorize):
        if op.kind == "authorization" and op.status in ("authorized", "declined"):
            log.info("authorization_settled_by_lookup", status=op.status)
            return ProviderAuthorization(
                id=op.id,
                status="authorized" if op.status == "authorized" else "declined",
                amount_minor=op.amount_minor or authorization.amount_minor,
                currency=op.currency,
                reference=op.reference,
                decline_code=op.decline_code,
                decline_reason=op.decline_reason,
            )
    return None


def fail_authorization(
    event: PaymentInitiated,
    uow: BillingUnitOfWork,
    error: BaseException,
    provider: PaymentProvider,
) -> None:
    """Retries are used up. The last call may still have reached the provider, so ask it once
    more: a hold it placed is released (the shopper is told the payment failed, and must not be
    left with money held for it). Only then does the payment fail."""
    authorization = uow.authorizations.get(event.payment_id)
    if authorization is None:
        authorization = Authorization.request(event)
        uow.authorizations.add(authorization)
    elif authorization.status is not AuthorizationStatus.REQUESTED:
        return
    try:
        held = settled_authorization(provider, authorization)
        if held is not None and held.status == "authorized":
            provider.void(
                idempotency_key=authorization.idempotency_key_void,
                authorization_id=held.id,
                reference=authorization.payment_id,
            )
            log.warning("late_authorization_voided", authorization_id=held.id)
    except ProviderUnavailable as e:
        # Not even the lookup answers: a hold placed by a lost call, if any, expires at the
        # provider (docs/failure-modes.md, known limits).
        log.error("authorization_outcome_unknown_at_give_up", error=str(e))
    code = "provider_unavailable" if isinstance(error, RetryLater) else "authorization_failed"
    authorization.fail(code, f"no answer from the payment provider after retries: {error}"[:500])
    log.error("authorization_given_up", code=code)
    uow.record(*authorization.events)


def void_authorization(
    event: OrderFailed, uow: BillingUnitOfWork, provider: PaymentProvider
) -> None:
    authorization = uow.authorizations.get(event.payment_id)
    if authorization is None:
        if uow.replayed:
            # A replay re-delivers each topic on its own: this payment's PaymentInitiated may be
            # re-delivered after its OrderFailed.
            uow.retry_later("OrderFailed re-delivered before the payment's PaymentInitiated")
            return
        raise UnknownPayment(f"OrderFailed for payment {event.payment_id} billing never saw")
    if authorization.status is AuthorizationStatus.VOIDED:
        return
    authorization.void(event.reason)  # raises InvalidTransition unless AUTHORIZED
    held = authorization.provider_authorization_id
    assert held is not None  # every AUTHORIZED authorization has one
    if uow.may_have_acted and any(
        op.kind == "void" for op in provider.find_operations(authorization.idempotency_key_void)
    ):
        log.info("void_settled_by_lookup")
    else:
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

GIVE_UP: dict[type[Event], Callable[..., None]] = {
    PaymentInitiated: fail_authorization,
}
