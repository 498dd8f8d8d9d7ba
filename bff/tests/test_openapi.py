"""The OpenAPI document says what the BFF does. Every status an operation documents is given by
a real request here (the `@asks` requests must cover them all, so a new operation or status needs
its request), and every answer, to those and to the requests Schemathesis generates from the
document, is one the document lists for that operation: its status, content type, headers and
body schema."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
import schemathesis
from bff_support import (
    accept,
    bearer,
    captured_payment,
    new_key,
    new_payment,
    new_session,
    open_session,
    shopper,
)
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bff.main import create_app
from bff.settings import Settings
from payctl.embedded import free_port

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from httpx import Response
    from schemathesis import Case

    from bff.projector.bootstrap import Projector

pytestmark = pytest.mark.integration

# What "true" means: a documented status, content type, headers and body.
DOCUMENT_CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# No request makes the service fail on purpose: its 500 is documented, and never given here.
UNPROVOKED = {500}


@dataclass
class World:
    api: TestClient  # a product backend, with its client token
    browser: TestClient  # no client token: the shopper's browser
    down: TestClient  # a backend's calls while the database is unreachable
    projector: Projector
    database_url: str


@pytest.fixture
def world(
    api: TestClient, settings: Settings, client_id: str, projector: Projector
) -> Iterator[World]:
    unreachable = settings.model_copy(
        update={"database_url": f"postgresql://payments@127.0.0.1:{free_port()}/bff"}
    )
    with (
        TestClient(create_app(settings), raise_server_exceptions=False) as browser,
        TestClient(create_app(unreachable), raise_server_exceptions=False) as down,
    ):
        down.headers.update(bearer(client_id))
        yield World(api, browser, down, projector, settings.database_url)


@dataclass(frozen=True)
class Asked:
    """A request that must get `status` (and, for an error, `code`) from `operation`."""

    operation: tuple[str, str]
    status: int
    code: str | None
    call: Callable[[World], Response]

    @property
    def id(self) -> str:
        return f"{self.operation[0]} {self.operation[1]} {self.status} {self.call.__name__[1:]}"


ASKED: list[Asked] = []


def asks(
    operation: tuple[str, str], status: int, code: str | None = None
) -> Callable[[Callable[[World], Response]], Callable[[World], Response]]:
    def registered(call: Callable[[World], Response]) -> Callable[[World], Response]:
        ASKED.append(Asked(operation, status, code, call))
        return call

    return registered


PAYMENTS = ("POST", "/v1/payments")
PAYMENT = ("GET", "/v1/payments/{payment_id}")
REFUNDS = ("POST", "/v1/payments/{payment_id}/refunds")
SESSIONS = ("POST", "/v1/checkout-sessions")
SESSION = ("GET", "/v1/checkout-sessions/{session_id}")
CHECKOUT = ("GET", "/v1/checkout/{session_id}")
CHECKOUT_PAY = ("POST", "/v1/checkout/{session_id}/payments")
PAGE = ("GET", "/checkout/{session_id}")
ASSET = ("GET", "/checkout/assets/{name}")
HEALTH = ("GET", "/healthz")
LIVE = ("GET", "/livez")
PATH_PARAMETER = re.compile(r"\{(\w+)\}")
NO_ONE = str(uuid.UUID(int=0))
# Bytes that are not even UTF-8, sent as JSON.
NOT_JSON = b"\xff{"
JSON = {"Content-Type": "application/json"}
ONE_CENT_BACK = {"lines": [{"line_no": 0, "amount_minor": 1}]}


def _reused_key(client: TestClient, path: str, first: Any, second: Any, **headers: str) -> Response:
    key = new_key()
    assert client.post(path, json=first, headers={**headers, **key}).status_code == 202
    return client.post(path, json=second, headers={**headers, **key})


def _refund(w: World, payment_id: str, body: Any = None) -> Response:
    return w.api.post(f"/v1/payments/{payment_id}/refunds", json=body, headers=new_key())


def _pay(client: TestClient, session_id: str, key: str, method: str = "pm_card_visa") -> Response:
    return client.post(
        f"/v1/checkout/{session_id}/payments",
        json={"payment_method": method},
        headers=shopper(key, **new_key()),
    )


@asks(PAYMENTS, 202)
def _accepted(w: World) -> Response:
    return w.api.post("/v1/payments", json=new_payment(), headers=new_key())


@asks(PAYMENTS, 401, "unauthorized")
def _payment_without_token(w: World) -> Response:
    return w.browser.post("/v1/payments", json=new_payment(), headers=new_key())


@asks(PAYMENTS, 422, "validation_failed")
def _payment_missing_fields(w: World) -> Response:
    return w.api.post("/v1/payments", json={}, headers=new_key())


@asks(PAYMENTS, 422, "validation_failed")
def _payment_not_json(w: World) -> Response:
    return w.api.post("/v1/payments", content=NOT_JSON, headers={**JSON, **new_key()})


@asks(PAYMENTS, 422, "idempotency_key_reused")
def _payment_key_reused(w: World) -> Response:
    return _reused_key(w.api, "/v1/payments", new_payment(), new_payment())


@asks(PAYMENTS, 503, "database_unavailable")
def _payment_while_down(w: World) -> Response:
    return w.down.post("/v1/payments", json=new_payment(), headers=new_key())


@asks(PAYMENT, 200)
def _status(w: World) -> Response:
    return w.api.get(f"/v1/payments/{accept(w.api)}")


@asks(PAYMENT, 401, "unauthorized")
def _status_without_token(w: World) -> Response:
    return w.browser.get(f"/v1/payments/{accept(w.api)}")


@asks(PAYMENT, 404, "payment_not_found")
def _status_of_no_one(w: World) -> Response:
    return w.api.get(f"/v1/payments/{NO_ONE}")


@asks(PAYMENT, 503, "database_unavailable")
def _status_while_down(w: World) -> Response:
    return w.down.get(f"/v1/payments/{NO_ONE}")


@asks(REFUNDS, 202)
def _refunded(w: World) -> Response:
    return _refund(w, captured_payment(w.api, w.projector))


@asks(REFUNDS, 401, "unauthorized")
def _refund_without_token(w: World) -> Response:
    return w.browser.post(f"/v1/payments/{NO_ONE}/refunds", headers=new_key())


@asks(REFUNDS, 404, "payment_not_found")
def _refund_of_no_one(w: World) -> Response:
    return _refund(w, NO_ONE)


@asks(REFUNDS, 409, "payment_not_refundable")
def _refund_before_capture(w: World) -> Response:
    return _refund(w, accept(w.api))


@asks(REFUNDS, 422, "refund_exceeds_captured")
def _refund_too_much(w: World) -> Response:
    too_much = {"lines": [{"line_no": 0, "amount_minor": 5000}]}
    return _refund(w, captured_payment(w.api, w.projector), too_much)


@asks(REFUNDS, 422, "unknown_line")
def _refund_of_no_line(w: World) -> Response:
    no_line = {"lines": [{"line_no": 7, "amount_minor": 1}]}
    return _refund(w, captured_payment(w.api, w.projector), no_line)


@asks(REFUNDS, 422, "invalid_refund")
def _refund_of_a_line_twice(w: World) -> Response:
    twice = {"lines": ONE_CENT_BACK["lines"] * 2}
    return _refund(w, captured_payment(w.api, w.projector), twice)


@asks(REFUNDS, 422, "idempotency_key_reused")
def _refund_key_reused(w: World) -> Response:
    path = f"/v1/payments/{captured_payment(w.api, w.projector)}/refunds"
    return _reused_key(w.api, path, ONE_CENT_BACK, {})


@asks(REFUNDS, 422, "validation_failed")
def _refund_not_json(w: World) -> Response:
    path = f"/v1/payments/{NO_ONE}/refunds"
    return w.api.post(path, content=NOT_JSON, headers={**JSON, **new_key()})


@asks(REFUNDS, 503, "database_unavailable")
def _refund_while_down(w: World) -> Response:
    return w.down.post(f"/v1/payments/{NO_ONE}/refunds", headers=new_key())


@asks(SESSIONS, 201)
def _session_opened(w: World) -> Response:
    return w.api.post("/v1/checkout-sessions", json=new_session())


@asks(SESSIONS, 401, "unauthorized")
def _session_without_token(w: World) -> Response:
    return w.browser.post("/v1/checkout-sessions", json=new_session())


@asks(SESSIONS, 422, "validation_failed")
def _session_of_nothing(w: World) -> Response:
    return w.api.post("/v1/checkout-sessions", json=new_session(lines=[]))


@asks(SESSIONS, 503, "database_unavailable")
def _session_while_down(w: World) -> Response:
    return w.down.post("/v1/checkout-sessions", json=new_session())


@asks(SESSION, 200)
def _session_seen(w: World) -> Response:
    return w.api.get(f"/v1/checkout-sessions/{open_session(w.api)[0]}")


@asks(SESSION, 401, "unauthorized")
def _session_seen_without_token(w: World) -> Response:
    return w.browser.get(f"/v1/checkout-sessions/{open_session(w.api)[0]}")


@asks(SESSION, 404, "checkout_session_not_found")
def _session_of_no_one(w: World) -> Response:
    return w.api.get(f"/v1/checkout-sessions/{NO_ONE}")


@asks(SESSION, 503, "database_unavailable")
def _session_while_down_seen(w: World) -> Response:
    return w.down.get(f"/v1/checkout-sessions/{NO_ONE}")


@asks(CHECKOUT, 200)
def _checkout_seen(w: World) -> Response:
    session_id, key, _ = open_session(w.api)
    assert _pay(w.browser, session_id, key).status_code == 202
    # Under way: the answer says when to poll again.
    return w.browser.get(f"/v1/checkout/{session_id}", headers=shopper(key))


@asks(CHECKOUT, 404, "checkout_session_not_found")
def _checkout_with_another_key(w: World) -> Response:
    session_id, _, _ = open_session(w.api)
    return w.browser.get(f"/v1/checkout/{session_id}", headers=shopper("not-its-key"))


@asks(CHECKOUT, 503, "database_unavailable")
def _checkout_while_down(w: World) -> Response:
    return w.down.get(f"/v1/checkout/{NO_ONE}", headers=shopper("a-key"))


@asks(CHECKOUT_PAY, 202)
def _checkout_paid(w: World) -> Response:
    session_id, key, _ = open_session(w.api)
    return _pay(w.browser, session_id, key)


@asks(CHECKOUT_PAY, 404, "checkout_session_not_found")
def _checkout_paid_with_another_key(w: World) -> Response:
    session_id, _, _ = open_session(w.api)
    return _pay(w.browser, session_id, "not-its-key")


@asks(CHECKOUT_PAY, 409, "checkout_session_paid")
def _checkout_paid_twice(w: World) -> Response:
    session_id, key, _ = open_session(w.api)
    assert _pay(w.browser, session_id, key).status_code == 202
    return _pay(w.browser, session_id, key)


@asks(CHECKOUT_PAY, 410, "checkout_session_expired")
def _checkout_paid_too_late(w: World) -> Response:
    session_id, key, _ = open_session(w.api)
    with psycopg.connect(w.database_url) as conn:
        conn.execute(
            "UPDATE checkout_sessions SET expires_at = now() - interval '1 second' "
            "WHERE session_id = %s",
            (session_id,),
        )
    return _pay(w.browser, session_id, key)


@asks(CHECKOUT_PAY, 422, "validation_failed")
def _checkout_paid_with_nothing(w: World) -> Response:
    session_id, key, _ = open_session(w.api)
    return _pay(w.browser, session_id, key, method="")


@asks(CHECKOUT_PAY, 422, "idempotency_key_reused")
def _checkout_key_reused(w: World) -> Response:
    session_id, key, _ = open_session(w.api)
    path = f"/v1/checkout/{session_id}/payments"
    visa, declined = {"payment_method": "pm_card_visa"}, {"payment_method": "pm_card_declined"}
    return _reused_key(w.browser, path, visa, declined, **shopper(key))


@asks(CHECKOUT_PAY, 503, "database_unavailable")
def _checkout_paid_while_down(w: World) -> Response:
    return _pay(w.down, NO_ONE, "a-key")


@asks(PAGE, 200)
def _page(w: World) -> Response:
    return w.browser.get(f"/checkout/{NO_ONE}")


@asks(ASSET, 200)
def _script(w: World) -> Response:
    return w.browser.get("/checkout/assets/checkout.js")


@asks(ASSET, 404, "not_found")
def _no_asset(w: World) -> Response:
    return w.browser.get("/checkout/assets/page.html")


@asks(HEALTH, 200)
def _healthy(w: World) -> Response:
    return w.api.get("/healthz")


@asks(HEALTH, 503, "unhealthy")
def _unhealthy(w: World) -> Response:
    return w.down.get("/healthz")


@asks(LIVE, 200)
def _live(w: World) -> Response:
    return w.down.get("/livez")


def documented(document: dict[str, Any]) -> set[tuple[str, str, int]]:
    return {
        (method.upper(), path, int(status))
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        for status in operation["responses"]
    }


# The app's document, as /openapi.json serves it. Loaded at import: Schemathesis's schemas loaded
# from a fixture need a pytest internal (`Node._nodeid`) that pytest 9 no longer has.
OPENAPI = create_app(Settings()).openapi()
DOCUMENT = schemathesis.openapi.from_dict(OPENAPI)


def test_every_documented_answer_has_a_request_that_gets_it() -> None:
    asked = {(*a.operation, a.status) for a in ASKED}

    assert {a for a in documented(OPENAPI) if a[2] not in UNPROVOKED} == asked


def test_no_operation_documents_the_frameworks_validation_body() -> None:
    assert "HTTPValidationError" not in str(OPENAPI)
    for path, operations in OPENAPI["paths"].items():
        for method, operation in operations.items():
            invalid = operation["responses"].get("422")
            if invalid is not None:
                schema = invalid["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ValidationErrorOut"}, (method, path)


@pytest.mark.parametrize("asked", ASKED, ids=lambda a: a.id)
def test_the_answer_is_the_documented_one(asked: Asked, world: World) -> None:
    response = asked.call(world)

    assert response.status_code == asked.status, response.text
    if asked.code is not None:
        assert response.json()["code"] == asked.code
    if asked.status == 422:
        assert response.json()["errors"], "a 422 names the fields at fault"
    method, path = asked.operation
    case = DOCUMENT[path][method].Case(
        path_parameters=dict.fromkeys(PATH_PARAMETER.findall(path), "x")
    )
    case.validate_response(response, checks=DOCUMENT_CHECKS)


@DOCUMENT.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_get_documented_answers(case: Case, world: World) -> None:
    # Real ids, of the caller's: a generated request reaches the handler, not only its 404.
    client = world.api
    if "payment_id" in (case.path_parameters or {}):
        case.path_parameters = {"payment_id": captured_payment(world.api, world.projector)}
    if "session_id" in (case.path_parameters or {}):
        session_id, key, _ = open_session(world.api)
        case.path_parameters = {"session_id": session_id}
        if case.path.startswith("/v1/checkout/"):
            client = world.browser
            case.headers = {**(case.headers or {}), "Checkout-Key": key}
    sent = case.as_transport_kwargs(base_url=str(client.base_url))
    # The caller's own credentials, not generated ones: the 401s are asked for above.
    headers = {k: v for k, v in sent["headers"].items() if k.lower() != "authorization"}
    response = client.request(
        sent["method"],
        sent["url"],
        params=sent.get("params"),
        headers=headers,
        content=sent.get("data"),
        json=sent.get("json"),
    )

    case.validate_response(response, checks=[not_a_server_error, *DOCUMENT_CHECKS])
