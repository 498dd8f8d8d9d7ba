"""Every error the API answers is JSON `{"code", "message"}`; this turns exceptions into those.
Named errors get their HTTP status here and nowhere else."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import psycopg
import structlog
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException

from bff.api.deps import client_of, opened_by_checkout_key
from bff.api.rendering import OrjsonResponse
from bff.auth import Unauthenticated
from bff.domain.errors import (
    CheckoutAttemptsExhausted,
    CheckoutSessionExpired,
    CheckoutSessionNotFound,
    CheckoutSessionPaid,
    InvalidRequest,
    PaymentNotFound,
    PaymentNotRefundable,
)
from paykit.errors import PaymentsError

if TYPE_CHECKING:
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

log = structlog.get_logger()

STATUS_OF: dict[type[PaymentsError], int] = {
    Unauthenticated: 401,
    PaymentNotFound: 404,
    CheckoutSessionNotFound: 404,
    CheckoutSessionPaid: 409,
    CheckoutAttemptsExhausted: 409,
    # Gone for good: a new checkout link is needed, not a retry.
    CheckoutSessionExpired: 410,
    # The request is fine; the payment is not (yet) in a state to take it.
    PaymentNotRefundable: 409,
    # A refused request names the field at fault, as a validation error does.
    InvalidRequest: 422,
}
HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}
# Pydantic's error types, as the codes this API promises; a type not listed passes as it is.
FIELD_CODES = {
    "missing": "required",
    "extra_forbidden": "unknown_field",
    "string_too_short": "too_short",
    "string_too_long": "too_long",
    "too_short": "too_few_items",
    "too_long": "too_many_items",
    "greater_than": "must_be_positive",
    "less_than_equal": "too_large",
    "json_invalid": "invalid_json",
    **dict.fromkeys(
        ["string_type", "int_type", "list_type", "model_type", "model_attributes_type"],
        "invalid_type",
    ),
    **dict.fromkeys(
        ["url_type", "url_parsing", "url_scheme", "url_syntax_violation"], "invalid_url"
    ),
}
# A restarted or failed-over database is usually back within seconds; the pool reconnects alone.
DATABASE_RETRY_AFTER_SECONDS = "1"
HEADER_CODES = {
    "missing": "required",
    "string_too_short": "required",
    "string_too_long": "too_long",
}


def error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return OrjsonResponse(
        {"code": code, "message": message, **extra}, status_code=status, headers=headers
    )


async def named_error(_request: Request, e: Exception) -> JSONResponse:
    assert isinstance(e, PaymentsError)
    status = next((s for t, s in STATUS_OF.items() if isinstance(e, t)), None)
    if status is None:  # a named error the API has no answer for is a bug, not the client's
        log.error("unmapped_error", code=e.code, error=str(e)[:500])
        return await internal_error(_request, e)
    if isinstance(e, InvalidRequest):
        return error(status, e.code, str(e), errors=[_named(e.field, e.code, str(e))])
    # RFC 6750: a 401 names the scheme the client should authenticate with.
    headers = {"WWW-Authenticate": 'Bearer realm="payments-bff"'} if status == 401 else None
    return error(status, e.code, str(e), headers)


async def invalid_request(request: Request, e: Exception) -> JSONResponse:
    assert isinstance(e, RequestValidationError)
    return await validation_failed(request, [field_error(err) for err in e.errors()])


async def validation_failed(request: Request, errors: list[dict[str, str]]) -> JSONResponse:
    # FastAPI parses a JSON body before any dependency runs: authenticate here too, so that
    # only a known client learns what is wrong with a request. A shopper's checkout call has no
    # client token; its body names a payment method and nothing else to learn about.
    if not opened_by_checkout_key(request):
        try:
            client_of(request)
        except Unauthenticated as refused:
            return await named_error(request, refused)
    return error(
        422,
        "validation_failed",
        f"The request has {len(errors)} invalid field(s); nothing was recorded",
        errors=errors,
    )


def _named(field: str, code: str, message: str) -> dict[str, str]:
    return {"field": field, "code": code, "message": message}


def field_error(err: Any) -> dict[str, str]:
    """One pydantic error as `{field, code, message}`. The input is never echoed: it may be a
    card number."""
    where, *path = err["loc"]
    kind = err["type"]
    if where == "header":
        name = str(path[0])
        slug = name.lower().removeprefix("x-").replace("-", "_")
        return {
            "field": name,
            "code": f"{slug}_{HEADER_CODES.get(kind, 'invalid')}",
            "message": f"{name} header: {err['msg']}",
        }
    if kind == "json_invalid":
        path = []
    field = ".".join(str(p) for p in path) or str(where)
    return {"field": field, "code": FIELD_CODES.get(kind, kind), "message": err["msg"]}


async def http_error(request: Request, e: Exception) -> JSONResponse:
    assert isinstance(e, HTTPException)
    if e.status_code == 400:
        # FastAPI's answer to a body it could not even decode (bytes that are not UTF-8, for an
        # optional body): the same as any other body that is not JSON, a validation error.
        return await validation_failed(
            request, [_named("body", "invalid_json", f"The body is not JSON: {e.detail}")]
        )
    code = HTTP_CODES.get(e.status_code, f"http_{e.status_code}")
    return error(e.status_code, code, str(e.detail), dict(e.headers or {}))


async def database_unavailable(_request: Request, e: Exception) -> JSONResponse:
    # A driver error on a connection the pool had to throw away is the same outage as a refused
    # connect (the server went away mid-statement). Any other driver error is a bug: re-raised,
    # it is logged with its traceback and answered 500. psycopg's own errors come from the
    # accept path, which bypasses SQLAlchemy; its pool's timeout is an OperationalError.
    outage = (
        OperationalError,
        InterfaceError,
        PoolTimeout,
        psycopg.OperationalError,
        psycopg.InterfaceError,
    )
    if not isinstance(e, outage) and not (isinstance(e, DBAPIError) and e.connection_invalidated):
        raise e
    log.warning("database_unavailable", error=repr(e)[:500])
    return error(
        503,
        "database_unavailable",
        # A commit cut off mid-way may or may not have happened: the key's replay tells.
        "The payment service cannot reach its database; retry with the same Idempotency-Key",
        {"Retry-After": DATABASE_RETRY_AFTER_SECONDS},
    )


async def internal_error(_request: Request, _e: Exception) -> JSONResponse:
    # Starlette logs the exception with its traceback after this answer; the client gets none.
    return error(500, "internal_error", "The payment service failed unexpectedly")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PaymentsError, named_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(HTTPException, http_error)
    for unavailable in (DBAPIError, PoolTimeout, psycopg.Error):
        app.add_exception_handler(unavailable, database_unavailable)
    app.add_exception_handler(Exception, internal_error)
