"""The shopper's side of a checkout session: the page at `/checkout/{session_id}`, and the two
calls it makes with the key from its URL's fragment (`Checkout-Key`) — see the session, pay it.
The key opens that one session; it can neither change who pays nor how much."""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING

import structlog
from fastapi import APIRouter, Request, Response
from starlette.exceptions import HTTPException

from bff.adapters.acceptance import Accepted
from bff.api.accept_requests import AcceptRequest, read_accept_request
from bff.api.answers import RETRY_AFTER_SECONDS, accepted, canonical_id, payment_accepted
from bff.api.checkout_models import CheckoutPaymentRequest, CheckoutView

# FastAPI reads the annotations at run time, so these aliases are real imports.
from bff.api.deps import (  # noqa: TC001
    CHECKOUT_API_PREFIX,
    CHECKOUT_KEY,
    AcceptanceDep,
    CheckoutKey,
    CorrelationId,
    IdempotencyKey,
    UowDep,
)
from bff.api.models import PaymentAccepted
from bff.api.responses import (
    ACCEPTED,
    NO_STORE,
    RETRY_AFTER,
    UNAVAILABLE,
    answers,
    header,
    invalid,
    ok,
    refused,
)
from bff.domain.errors import CheckoutSessionNotFound
from bff.domain.idempotency import fingerprint, replay
from bff.domain.status import PaymentStatus
from paykit.messages import Trace

if TYPE_CHECKING:
    from bff.adapters.acceptance import Acceptance
    from bff.api.rendering import OrjsonResponse
    from bff.domain.checkout import CheckoutSession
    from bff.unit_of_work import BffUnitOfWork

log = structlog.get_logger()

router = APIRouter(tags=["checkout (shopper)"])

PAGE_HEADERS = {
    "Cache-Control": header("`no-store`"),
    "Content-Security-Policy": header(
        "its own script and styles only; its one form goes to SAAS_APP_URL"
    ),
}
POLL = {"Retry-After": RETRY_AFTER | {"description": "while the payment is under way"}}
NOT_FOUND = refused(
    404, "`checkout_session_not_found`: no such session, or the key does not open it"
)
# The page polls while money may still move and no sign-in is there to follow yet.
IN_PROGRESS = frozenset({PaymentStatus.PROCESSING, PaymentStatus.AUTHORIZED})


def _opened(uow: BffUnitOfWork, session_id: str, key: str) -> CheckoutSession:
    checkout = uow.checkout_sessions.get(canonical_id(session_id))
    if checkout is None or not checkout.admits(key):
        raise CheckoutSessionNotFound("This checkout link is not valid")
    return checkout


@router.get(
    f"{CHECKOUT_API_PREFIX}/{{session_id}}",
    response_model=CheckoutView,
    responses=answers(
        ok("what is paid, and how its payment goes", {"Cache-Control": NO_STORE, **POLL}),
        NOT_FOUND,
        UNAVAILABLE,
    ),
)
def view_checkout(
    session_id: str, key: CheckoutKey, uow: UowDep, response: Response
) -> CheckoutView:
    """The session its key opens: what is paid, and how its payment goes. Poll it as
    `Retry-After` says while the payment is under way."""
    # It can hold a live single-use SSO token: no cache may keep a copy.
    response.headers["Cache-Control"] = "no-store"
    with uow:
        checkout = _opened(uow, session_id, key)
        payment = uow.payments.get(checkout.payment_id) if checkout.payment_id else None
        view = CheckoutView.of(checkout, payment, datetime.now(UTC))
    if view.payment is not None and view.payment.status in IN_PROGRESS:
        response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    return view


@router.post(
    f"{CHECKOUT_API_PREFIX}/{{session_id}}/payments",
    status_code=202,
    response_model=PaymentAccepted,
    responses=answers(
        ACCEPTED,
        NOT_FOUND,
        refused(
            409,
            "`checkout_session_paid`: its payment is under way or done; "
            "`checkout_attempts_exhausted`: too many declined tries",
        ),
        refused(410, "`checkout_session_expired`: nothing charged"),
        invalid("idempotency_key_reused"),
        UNAVAILABLE,
    ),
)
async def pay_checkout(
    session_id: str,
    body: CheckoutPaymentRequest,
    key: CheckoutKey,
    idempotency_key: IdempotencyKey,
    acceptance: AcceptanceDep,
    correlation_id: CorrelationId = None,
) -> OrjsonResponse:
    """Pays the session with the payment method the shopper chose; answers at once, and the
    session's view shows how it goes. A double click sends the same Idempotency-Key and is
    answered the first payment; a second tab's click is refused while that payment stands."""
    accept_request = AcceptRequest(body, idempotency_key, correlation_id or None)
    return await _pay(acceptance, session_id, key, accept_request)


async def pay_checkout_directly(request: Request, session_id: str) -> OrjsonResponse | None:
    """`pay_checkout` as served directly (`paykit.direct_routes`); None leaves a request it
    would refuse to FastAPI."""
    accept_request = await read_accept_request(request, CheckoutPaymentRequest)
    if accept_request is None:
        return None
    key = request.headers.get(CHECKOUT_KEY) or ""
    return await _pay(request.app.state.acceptance, session_id, key, accept_request)


async def _pay(
    acceptance: Acceptance,
    session_id: str,
    key: str,
    accept_request: AcceptRequest[CheckoutPaymentRequest],
) -> OrjsonResponse:
    body, idempotency_key = accept_request.body, accept_request.idempotency_key
    payment_id = str(uuid.uuid4())
    session_id = canonical_id(session_id)
    status_url = f"{CHECKOUT_API_PREFIX}/{session_id}"
    # Keys are the backend's (the session's client) and scoped to the session.
    scoped_key = f"checkout:{session_id}:{idempotency_key}"
    request_fingerprint = fingerprint(body.model_dump(mode="json"))
    # Locked first: two clicks take turns, and the second sees what the first did.
    async with acceptance.checkout_payment(session_id, scoped_key) as paying:
        checkout = paying.session
        if checkout is None or not checkout.admits(key):
            raise CheckoutSessionNotFound("This checkout link is not valid")
        if paying.first_use is not None:
            first = paying.first_use
            return accepted(
                replay(idempotency_key, first.fingerprint, request_fingerprint, first.answer),
                replayed=True,
            )
        payment = checkout.pay(
            payment_id=payment_id,
            payment_method=body.payment_method,
            last_status=paying.last_status,
            now=datetime.now(UTC),
        )
        answer = payment_accepted(payment_id, status_url)
        trace = Trace.start(accept_request.correlation_id or payment_id)
        await paying.record(
            Accepted(payment, checkout.client_id, scoped_key, request_fingerprint, answer, trace)
        )
    log.info(
        "checkout_paid",
        session_id=checkout.session_id,
        payment_id=payment_id,
        attempt=checkout.attempts,
        amount_minor=payment.amount_minor,
    )
    return accepted(answer, replayed=False)


# The page and its assets, served as they are in the package: plain HTML, CSS and a script.
ASSETS = {"page.html": "text/html", "checkout.js": "text/javascript", "checkout.css": "text/css"}


@functools.cache
def _asset(name: str) -> bytes:
    return (resources.files("bff") / "checkout" / name).read_bytes()


def _page_headers(request: Request) -> dict[str, str]:
    sign_in = request.app.state.settings.saas_app_url.rstrip("/")
    return {
        "Cache-Control": "no-store",
        # The page's URL names the session; no other site needs to learn it.
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        # Its own script and styles only; its one form goes to the SaaS app's sign-in.
        "Content-Security-Policy": (
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
            f"img-src 'self'; form-action {sign_in}; frame-ancestors 'none'; base-uri 'none'"
        ),
    }


@router.get(
    "/checkout/{session_id}",
    response_class=Response,
    tags=["checkout page"],
    responses=answers(
        (
            200,
            {
                "description": "the checkout page, the same for every session (its script reads "
                "the key from the URL's fragment)",
                "content": {"text/html": {"schema": {"type": "string"}}},
                "headers": PAGE_HEADERS,
            },
        )
    ),
)
def checkout_page(session_id: str, request: Request) -> Response:
    """The page a checkout URL opens: what is paid, the payment methods, the live status."""
    # The same page for every session: its script reads the key from the fragment, which only
    # the browser has, and asks the API.
    return Response(_asset("page.html"), media_type="text/html", headers=_page_headers(request))


@router.get(
    "/checkout/assets/{name}",
    response_class=Response,
    tags=["checkout page"],
    responses=answers(
        (
            200,
            {
                "description": "the page's script or stylesheet",
                "content": {"text/javascript": {}, "text/css": {}},
            },
        ),
        refused(404, "`not_found`: no such asset"),
    ),
)
def checkout_asset(name: str) -> Response:
    """`checkout.js` and `checkout.css`, as the package holds them."""
    if name not in ASSETS or name == "page.html":
        raise HTTPException(404, f"No checkout asset {name!r}")
    headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    return Response(_asset(name), media_type=ASSETS[name], headers=headers)
