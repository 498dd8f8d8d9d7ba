"""Every error the API answers is `{"code", "message"}`; this turns exceptions into those."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from psp_sim.database import UNAVAILABLE
from psp_sim.errors import Rejection

if TYPE_CHECKING:
    from fastapi import FastAPI, Request

log = structlog.get_logger()

HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def rejection(e: Rejection) -> JSONResponse:
    return error(e.http_status, e.code, e.message)


async def rejected(_request: Request, e: Exception) -> JSONResponse:
    assert isinstance(e, Rejection)
    return rejection(e)


async def invalid(request: Request, e: Exception) -> JSONResponse:
    assert isinstance(e, RequestValidationError)
    first = e.errors()[0]
    where = ".".join(str(part) for part in first["loc"][1:]) or str(first["loc"][0])
    # The provider API answers 400 as Stripe does; the admin API is ours and keeps HTTP's 422.
    status = 422 if request.url.path.startswith("/admin/") else 400
    return error(status, "invalid_request", f"{where}: {first['msg']}")


async def http_error(_request: Request, e: Exception) -> JSONResponse:
    assert isinstance(e, HTTPException)
    code = HTTP_CODES.get(e.status_code, f"http_{e.status_code}")
    return error(e.status_code, code, str(e.detail))


async def database_unavailable(_request: Request, e: Exception) -> JSONResponse:
    log.warning("database_unavailable", error=repr(e)[:500])
    return error(503, "database_unavailable", "The provider cannot reach its database")


async def internal_error(_request: Request, _e: Exception) -> JSONResponse:
    # Starlette logs the exception itself after this answer.
    return error(500, "internal_error", "The provider failed unexpectedly")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Rejection, rejected)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)
    for unavailable in UNAVAILABLE:
        app.add_exception_handler(unavailable, database_unavailable)
    app.add_exception_handler(Exception, internal_error)
