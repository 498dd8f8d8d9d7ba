"""What routes take from the app and the request: a unit of work (cold paths) or the accept path's
plain-SQL recorder, the authenticated client (or a checkout session's key), and the headers a
payment request carries."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from bff.adapters.acceptance import Acceptance
from bff.auth import bearer_token, verify_token
from bff.unit_of_work import BffUnitOfWork

# The accept routes' headers, as declared here and as `api.accept_requests` reads them directly.
IDEMPOTENCY_KEY = "Idempotency-Key"
CORRELATION_ID = "X-Correlation-Id"
CHECKOUT_KEY = "Checkout-Key"
MAX_HEADER_LENGTH = 255

# Declared for the OpenAPI document (the "Authorize" button of /docs); `authenticate` checks.
_bearer = HTTPBearer(auto_error=False, description="a token from `payctl token`")


def client_of(request: Request) -> str:
    """The client a request comes from, per its bearer token."""
    token = bearer_token(request.headers.get("Authorization"))
    return verify_token(request.app.state.settings.auth_secret, token)


# The dependencies are async though they never wait: FastAPI runs a sync one on a thread of its
# pool, a hand-off per dependency per request that costs more than the work it hands off.


async def authenticate(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    return client_of(request)


async def get_uow(request: Request) -> BffUnitOfWork:
    return BffUnitOfWork(request.app.state.session_factory, request.app.state.codec)


async def get_acceptance(request: Request) -> Acceptance:
    acceptance: Acceptance = request.app.state.acceptance
    return acceptance


# The capability a checkout URL carries (its fragment), sent by the checkout page. A missing key
# is answered as a wrong one, by the route: 404, the session is not shown.
_checkout_key = APIKeyHeader(
    name=CHECKOUT_KEY,
    auto_error=False,
    description="the key in the fragment of a checkout URL; it opens that session only",
)


# The shopper's calls, which the key opens instead of a client token.
CHECKOUT_API_PREFIX = "/v1/checkout"


def opened_by_checkout_key(request: Request) -> bool:
    route = request.scope.get("route")
    return str(getattr(route, "path", "")).startswith(CHECKOUT_API_PREFIX + "/")


async def checkout_key(key: Annotated[str | None, Depends(_checkout_key)]) -> str:
    return key or ""


ClientDep = Annotated[str, Depends(authenticate)]
CheckoutKey = Annotated[str, Depends(checkout_key)]
UowDep = Annotated[BffUnitOfWork, Depends(get_uow)]
AcceptanceDep = Annotated[Acceptance, Depends(get_acceptance)]
IdempotencyKey = Annotated[
    str,
    Header(
        alias=IDEMPOTENCY_KEY,
        min_length=1,
        max_length=MAX_HEADER_LENGTH,
        description="one per payment attempt; a retry with the same body replays the answer",
    ),
]
CorrelationId = Annotated[
    str | None,
    Header(
        alias=CORRELATION_ID,
        max_length=MAX_HEADER_LENGTH,
        description="carried on every event of the payment; the payment id when absent or empty",
    ),
]
