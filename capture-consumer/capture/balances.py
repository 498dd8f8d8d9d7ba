"""The read-only balances API, served on the health port beside /healthz: a seller's balance and
the ledger's trial balance, read straight from the journal."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from sqlalchemy.exc import OperationalError

from capture.adapters.ledger import seller_balance, seller_currencies, trial_balance

if TYPE_CHECKING:
    from collections.abc import Iterable
    from wsgiref.types import StartResponse, WSGIEnvironment

    from sqlalchemy import Engine

    from paykit.health import WsgiApp

SELLER_BALANCE = re.compile(r"^/v1/sellers/(?P<seller_id>[^/]+)/balance$")
TRIAL_BALANCE = "/v1/ledger/trial-balance"
CURRENCY = re.compile(r"^[A-Z]{3}$")

STATUS_LINES = {
    200: "200 OK",
    400: "400 Bad Request",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    503: "503 Service Unavailable",
}


def balances_routes(engine: Engine) -> dict[str, WsgiApp]:
    """The path prefixes the health server hands to this API."""
    app = BalancesApi(engine)
    return {"/v1/sellers/": app, "/v1/ledger/": app}


class BalancesApi:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        status, body = self._answer(environ)
        payload = json.dumps(body, default=iso_time).encode()
        start_response(
            STATUS_LINES[status],
            [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
        )
        return [payload]

    def _answer(self, environ: WSGIEnvironment) -> tuple[int, dict[str, Any]]:
        if environ.get("REQUEST_METHOD") != "GET":
            return error(405, "method_not_allowed", "the balances API only answers GET")
        path = environ.get("PATH_INFO", "")
        seller = SELLER_BALANCE.match(path)
        try:
            if path == TRIAL_BALANCE:
                return self._trial_balance()
            if seller is not None:
                query = parse_qs(environ.get("QUERY_STRING", ""))
                return self._seller_balance(seller["seller_id"], query.get("currency", [None])[0])
        except OperationalError as e:
            return error(503, "database_unavailable", f"{type(e).__name__}"[:300])
        return error(404, "not_found", f"try {TRIAL_BALANCE} or /v1/sellers/<id>/balance")

    def _seller_balance(self, seller_id: str, currency: str | None) -> tuple[int, dict[str, Any]]:
        with self._engine.connect() as conn:
            if currency is None:
                known = seller_currencies(conn, seller_id)
                if not known:
                    return error(404, "seller_not_found", f"no postings for seller {seller_id}")
                if len(known) > 1:
                    return error(
                        400, "currency_required", f"seller {seller_id} has balances in {known}"
                    )
                currency = known[0]
            elif not CURRENCY.match(currency):
                return error(400, "invalid_currency", "currency is an ISO 4217 code, e.g. EUR")
            return 200, asdict(seller_balance(conn, seller_id, currency))

    def _trial_balance(self) -> tuple[int, dict[str, Any]]:
        with self._engine.connect() as conn:
            accounts = trial_balance(conn)
        totals: dict[str, int] = {}
        for account in accounts:
            totals[account.currency] = totals.get(account.currency, 0) + account.balance_minor
        return 200, {
            "accounts": [asdict(a) for a in accounts],
            "totals": [{"currency": c, "total_minor": t} for c, t in totals.items()],
            "balanced": all(t == 0 for t in totals.values()),
        }


def iso_time(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON: {value!r}")


def error(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"code": code, "message": message}
