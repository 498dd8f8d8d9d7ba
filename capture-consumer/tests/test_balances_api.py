"""The balances API as the service serves it: on the health server, beside /healthz."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING

import httpx
import pytest
from capture_delivery import deliver
from capture_random_events import capture_key, order_confirmed, refund_requested

from paykit.health import HealthServer

if TYPE_CHECKING:
    from collections.abc import Iterator

    from capture_fakes import FakeProvider

    from capture.bootstrap import CaptureService

pytestmark = pytest.mark.integration


@pytest.fixture
def api(service: CaptureService) -> Iterator[httpx.Client]:
    server = HealthServer("127.0.0.1", 0, {}, routes=service.routes)
    server.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as client:
            yield client
    finally:
        server.stop()


def test_a_sellers_balance_is_what_was_captured_for_it_less_what_was_refunded(
    service: CaptureService, provider: FakeProvider, api: httpx.Client
) -> None:
    first = order_confirmed((700, 300))
    second = order_confirmed((1000,))
    provider.refuse(capture_key(second, 0))  # never captured: never owed
    for event in (first, second):
        deliver(service, event)
    deliver(service, refund_requested(first, {0: 250}))

    answer = api.get("/v1/sellers/seller_0/balance")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["seller_id"], body["currency"], body["balance_minor"]) == ("seller_0", "EUR", 450)
    assert [(p["kind"], p["amount_minor"]) for p in body["postings"]] == [
        ("refund", -250),
        ("capture", 700),
    ]
    assert {p["payment_id"] for p in body["postings"]} == {first.payment_id}
    assert all(datetime.fromisoformat(p["posted_at"]).tzinfo for p in body["postings"])


def test_the_trial_balance_sums_every_account_to_zero(
    service: CaptureService, provider: FakeProvider, api: httpx.Client
) -> None:
    confirmed = order_confirmed((700, 300))
    deliver(service, confirmed)
    deliver(service, refund_requested(confirmed, {1: 100}))

    answer = api.get("/v1/ledger/trial-balance")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert {(a["account"], a["currency"], a["balance_minor"]) for a in body["accounts"]} == {
        ("psp_receivable", "EUR", -900),
        ("seller:seller_0", "EUR", 700),
        ("seller:seller_1", "EUR", 200),
    }
    assert body["totals"] == [{"currency": "EUR", "total_minor": 0}]
    assert body["balanced"] is True


def test_a_seller_with_balances_in_two_currencies_must_name_one(
    service: CaptureService, api: httpx.Client
) -> None:
    eur = order_confirmed((700,))
    usd = dataclasses.replace(order_confirmed((500,)), currency="USD")
    for event in (eur, usd):
        deliver(service, event)

    ambiguous = api.get("/v1/sellers/seller_0/balance")
    assert (ambiguous.status_code, ambiguous.json()["code"]) == (400, "currency_required")
    in_usd = api.get("/v1/sellers/seller_0/balance", params={"currency": "USD"})
    assert (in_usd.json()["currency"], in_usd.json()["balance_minor"]) == ("USD", 500)


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/v1/sellers/nobody/balance", 404, "seller_not_found"),
        ("GET", "/v1/sellers/seller_0/balance?currency=euro", 400, "invalid_currency"),
        ("GET", "/v1/sellers/seller_0", 404, "not_found"),
        ("POST", "/v1/ledger/trial-balance", 405, "method_not_allowed"),
    ],
)
def test_what_the_api_does_not_know_is_answered_with_a_json_error(
    api: httpx.Client, method: str, path: str, status: int, code: str
) -> None:
    answer = api.request(method, path)
    assert (answer.status_code, answer.json()["code"]) == (status, code)
    assert answer.json()["message"]


def test_a_seller_with_no_postings_yet_in_a_named_currency_has_nothing(
    api: httpx.Client,
) -> None:
    body = api.get("/v1/sellers/new_seller/balance", params={"currency": "EUR"}).json()
    assert (body["balance_minor"], body["postings"]) == (0, [])
