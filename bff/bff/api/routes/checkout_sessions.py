"""`/v1/checkout-sessions`: a product backend, server to server with its client token, prepares
a payment for one of its customers and gets a short-lived checkout URL to send the shopper to.
The session fixes the customer and the amounts; the browser holding the URL only chooses the
payment method (`bff.api.routes.checkout`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import structlog
from fastapi import APIRouter, Request, Response

from bff.api.answers import canonical_id
from bff.api.checkout_models import (
    CheckoutSessionCreated,
    CheckoutSessionOut,
    CheckoutSessionRequest,
)

# FastAPI reads the annotations at run time, so these aliases are real imports.
from bff.api.deps import ClientDep, UowDep  # noqa: TC001
from bff.api.responses import CREATED, UNAUTHORIZED, UNAVAILABLE, answers, invalid, ok, refused
from bff.domain.checkout import CheckoutLine, CheckoutSession
from bff.domain.errors import CheckoutSessionNotFound

log = structlog.get_logger()

router = APIRouter(prefix="/v1/checkout-sessions", tags=["checkout sessions"])


@router.post(
    "",
    status_code=201,
    response_model=CheckoutSessionCreated,
    responses=answers(CREATED, UNAUTHORIZED, invalid(), UNAVAILABLE),
)
def create_checkout_session(
    body: CheckoutSessionRequest,
    client: ClientDep,
    uow: UowDep,
    request: Request,
    response: Response,
) -> CheckoutSessionCreated:
    """Prepares a payment for the shopper to pay at `checkout_url`. Send that URL to the
    shopper's browser only, never log it: it is the one capability the browser gets."""
    session_id = str(uuid.uuid4())
    checkout, key = CheckoutSession.open(
        session_id=session_id,
        client_id=client,
        customer_id=body.customer_id,
        currency=body.currency,
        lines=[CheckoutLine(x.seller_id, x.amount_minor) for x in body.lines],
        return_url=str(body.return_url) if body.return_url else None,
        now=datetime.now(UTC),
        lifetime=timedelta(seconds=body.expires_in_seconds),
    )
    with uow:
        uow.checkout_sessions.add(checkout)
        uow.commit()
    log.info("checkout_session_opened", session_id=session_id, amount_minor=checkout.amount_minor)
    status_url = f"{router.prefix}/{session_id}"
    response.headers["Location"] = status_url
    response.headers["Cache-Control"] = "no-store"
    base_url = request.app.state.settings.checkout_base_url
    return CheckoutSessionCreated(
        session_id=session_id,
        # The key rides in the fragment: browsers never send it to a server, so it is in no
        # access log, no proxy's and no Referer header.
        checkout_url=f"{base_url}/checkout/{session_id}#{key}",
        expires_at=checkout.expires_at,
        status_url=status_url,
    )


@router.get(
    "/{session_id}",
    response_model=CheckoutSessionOut,
    responses=answers(
        ok("the session, and the payment that paid it once there is one"),
        UNAUTHORIZED,
        refused(404, "`checkout_session_not_found`: no such session of the caller's"),
        UNAVAILABLE,
    ),
)
def get_checkout_session(session_id: str, client: ClientDep, uow: UowDep) -> CheckoutSessionOut:
    """One of the caller's checkout sessions; its `payment_id` is the payment to follow."""
    with uow:
        checkout = uow.checkout_sessions.get(canonical_id(session_id))
        # Another client's session is answered exactly like a missing one.
        if checkout is None or checkout.client_id != client:
            raise CheckoutSessionNotFound(f"No checkout session {session_id!r}")
        return CheckoutSessionOut.of(checkout)
