"""What each route answers, as the OpenAPI document shows it. The error handlers in
`bff.api.errors` make the same body and headers for a status on every route; this is that one
table, and each route lists the entries it can answer. `tests/test_openapi.py` holds every
answer to it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bff.api.models import ErrorOut, ValidationErrorOut

if TYPE_CHECKING:
    from fastapi import FastAPI

Entry = tuple[int, dict[str, Any]]


def header(description: str, kind: str = "string") -> dict[str, Any]:
    return {"description": description, "schema": {"type": kind}}


RETRY_AFTER = header("seconds to wait before asking again", "integer")
NO_STORE = header("`no-store`: the answer may hold a live single-use SSO token")

ACCEPTED: Entry = (
    202,
    {
        "description": "accepted; follow `status_url` (also in `Location`)",
        "headers": {
            "Location": header("the status to poll"),
            "Retry-After": RETRY_AFTER,
            "Idempotent-Replayed": header(
                "`true` when the Idempotency-Key replays the first answer to it"
            ),
        },
    },
)
CREATED: Entry = (
    201,
    {
        "description": "created; `Location` is `status_url`",
        "headers": {"Location": header("the new resource"), "Cache-Control": NO_STORE},
    },
)


def ok(description: str, headers: dict[str, Any] | None = None) -> Entry:
    return 200, {"description": description, "headers": headers or {}}


UNAUTHORIZED: Entry = (
    401,
    {
        "model": ErrorOut,
        "description": "`unauthorized`: no client token, or one that is invalid or expired",
        "headers": {"WWW-Authenticate": header('`Bearer realm="payments-bff"`')},
    },
)
UNAVAILABLE: Entry = (
    503,
    {
        "model": ErrorOut,
        "description": "`database_unavailable`: retry after `Retry-After`, with the same "
        "Idempotency-Key",
        "headers": {"Retry-After": RETRY_AFTER},
    },
)
INTERNAL: Entry = (
    500,
    {
        "model": ErrorOut,
        "description": "`internal_error`: a failure of the service itself; a retry with the "
        "same Idempotency-Key tells whether anything was recorded",
    },
)


def refused(status: int, description: str) -> Entry:
    return status, {"model": ErrorOut, "description": description}


def invalid(*codes: str) -> Entry:
    """A 422: `validation_failed` (a field or header that breaks the rules, or a body that is not
    JSON) or one of `codes`; `errors` names each field at fault, nothing is recorded."""
    named = "".join(f", `{code}`" for code in codes)
    return 422, {
        "model": ValidationErrorOut,
        "description": f"`validation_failed`{named}: `errors` names each field at fault; "
        "nothing was recorded",
    }


def answers(*entries: Entry) -> dict[int | str, dict[str, Any]]:
    """A route's `responses`: its entries, and the 500 every route may answer."""
    return dict([*entries, INTERNAL])


def drop_framework_validation_answers(app: FastAPI) -> None:
    """FastAPI documents a 422 with a body of its own (`HTTPValidationError`) on every route with
    a parameter. This API never answers that body (`bff.api.errors` makes a `ValidationErrorOut`),
    and a route that can answer 422 declares it: the document keeps those only."""
    made = app.openapi

    def openapi() -> dict[str, Any]:
        document = made()
        for operations in document["paths"].values():
            for operation in operations.values():
                answer = operation["responses"].get("422", {})
                schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
                if schema.get("$ref", "").endswith("/HTTPValidationError"):
                    del operation["responses"]["422"]
        for framework_model in ("HTTPValidationError", "ValidationError"):
            document.get("components", {}).get("schemas", {}).pop(framework_model, None)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
