"""POST /v1/payments/{id}/refunds against a real Postgres: the refund, its key and
RefundRequested in one transaction; what may not be refunded is refused with nothing written;
the projector turns the outcomes into the statuses GET shows."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest
from bff_events import (
    refund_failed,
    refunded,
    succeeded,
)
from bff_support import (
    accept,
    bearer,
    captured_payment,
    deliver,
    new_key,
    new_payment,
    outbox_rows,
    row_counts,
)

from bff.domain.errors import UnknownRefund
from payment_events.events import RefundLine, RefundRequested

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from httpx import Response

    from bff.projector.bootstrap import Projector

pytestmark = pytest.mark.integration


def refund(
    api: TestClient, payment_id: str, body: dict[str, Any] | None = None, **headers: str
) -> Response:
    return api.post(
        f"/v1/payments/{payment_id}/refunds", json=body or {}, headers=new_key() | headers
    )


def status(api: TestClient, payment_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/payments/{payment_id}")
    assert response.status_code == 200
    shown: dict[str, Any] = response.json()
    return shown


def refund_events(database_url: str) -> list[RefundRequested]:
    events = [e for _, _, e, _ in outbox_rows(database_url) if isinstance(e, RefundRequested)]
    return events


def test_a_refund_without_lines_takes_back_everything_at_once(
    api: TestClient, projector: Projector, bff_database: str
) -> None:
    payment_id = captured_payment(api, projector)

    response = refund(api, payment_id)

    assert response.status_code == 202
    answer = response.json()
    refund_id = answer["refund_id"]
    assert uuid.UUID(refund_id)
    assert answer == {
        "refund_id": refund_id,
        "payment_id": payment_id,
        "status": "REFUND_REQUESTED",
        "amount_minor": 1250,
        "lines": [{"line_no": 0, "amount_minor": 1000}, {"line_no": 1, "amount_minor": 250}],
        "status_url": f"/v1/payments/{payment_id}",
    }
    assert response.headers["Location"] == answer["status_url"]
    assert response.headers["Retry-After"] == "1"
    [(topic, key, event, headers)] = outbox_rows(bff_database)[1:]
    assert (topic, key) == ("refund-requested", payment_id)
    assert isinstance(event, RefundRequested)
    assert (event.refund_id, event.currency, event.amount_minor) == (refund_id, "EUR", 1250)
    assert event.lines == (
        RefundLine(line_no=0, amount_minor=1000),
        RefundLine(line_no=1, amount_minor=250),
    )
    assert event.reason is None
    assert headers["correlation_id"] == payment_id
    assert headers["event_type"] == "RefundRequested"

    shown = status(api, payment_id)
    assert shown["status"] == "CAPTURED"
    assert (shown["captured_minor"], shown["refunded_minor"], shown["refundable_minor"]) == (
        1250,
        0,
        0,
    )
    [shown_refund] = shown["refunds"]
    assert shown_refund["refund_id"] == refund_id
    assert (shown_refund["status"], shown_refund["amount_minor"]) == ("REFUND_REQUESTED", 1250)
    assert shown["history"][-1]["event"] == "RefundRequested"


def test_a_refund_of_chosen_lines_carries_its_reason_and_correlation_id(
    api: TestClient, projector: Projector, bff_database: str
) -> None:
    payment_id = captured_payment(api, projector)
    body = {"lines": [{"line_no": 0, "amount_minor": 300}], "reason": "one item returned"}

    response = refund(api, payment_id, body, **{"X-Correlation-Id": "return-42"})

    assert response.status_code == 202
    assert response.json()["amount_minor"] == 300
    [(_, _, event, headers)] = outbox_rows(bff_database)[1:]
    assert isinstance(event, RefundRequested)
    assert event.lines == (RefundLine(line_no=0, amount_minor=300),)
    assert event.reason == "one item returned"
    assert headers["correlation_id"] == "return-42"
    lines = status(api, payment_id)["lines"]
    assert [(x["captured_minor"], x["refundable_minor"]) for x in lines] == [
        (1000, 700),
        (250, 250),
    ]


def test_a_post_without_a_body_refunds_everything(api: TestClient, projector: Projector) -> None:
    payment_id = captured_payment(api, projector)

    response = api.post(f"/v1/payments/{payment_id}/refunds", headers=new_key())

    assert response.status_code == 202
    assert response.json()["amount_minor"] == 1250


def test_the_same_key_and_body_replay_the_first_answer_even_with_nothing_left(
    api: TestClient, projector: Projector, bff_database: str
) -> None:
    payment_id = captured_payment(api, projector)
    key = new_key()
    first = api.post(f"/v1/payments/{payment_id}/refunds", json={}, headers=key)
    again = api.post(f"/v1/payments/{payment_id}/refunds", json={}, headers=key)

    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(refund_events(bff_database)) == 1
    assert row_counts(bff_database)["refunds"] == 1


@pytest.mark.parametrize(
    "second",
    ["other-body", "other-payment", "a-payment"],
)
def test_the_same_key_for_another_request_is_refused_and_writes_nothing(
    api: TestClient, projector: Projector, bff_database: str, second: str
) -> None:
    payment_id = captured_payment(api, projector)
    key = new_key()
    first = refund(api, payment_id, {"lines": [{"line_no": 0, "amount_minor": 1}]}, **key)
    assert first.status_code == 202
    before = row_counts(bff_database)

    if second == "other-body":
        other = api.post(f"/v1/payments/{payment_id}/refunds", json={}, headers=key)
    elif second == "other-payment":
        other_id = captured_payment(api, projector)
        before = row_counts(bff_database)
        other = api.post(f"/v1/payments/{other_id}/refunds", json={}, headers=key)
    else:
        other = api.post("/v1/payments", json=new_payment(), headers=key)

    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert row_counts(bff_database) == before


def test_an_unknown_payment_or_another_clients_is_404(
    api: TestClient, app: TestClient, projector: Projector, bff_database: str
) -> None:
    payment_id = captured_payment(api, projector)
    before = row_counts(bff_database)

    answers = [
        refund(api, str(uuid.uuid4())),
        refund(api, "not-a-uuid"),
        app.post(f"/v1/payments/{payment_id}/refunds", json={}, headers=new_key() | bearer("x")),
    ]

    assert [(a.status_code, a.json()["code"]) for a in answers] == [(404, "payment_not_found")] * 3
    assert row_counts(bff_database) == before


def test_a_refund_needs_a_token(app: TestClient) -> None:
    response = app.post(f"/v1/payments/{uuid.uuid4()}/refunds", json={}, headers=new_key())
    assert (response.status_code, response.json()["code"]) == (401, "unauthorized")


def test_a_payment_not_captured_yet_is_409_and_nothing_is_written(
    api: TestClient, projector: Projector, bff_database: str
) -> None:
    payment_id = accept(api)
    deliver(projector, succeeded(payment_id, amount=1250))
    before = row_counts(bff_database)

    response = refund(api, payment_id)

    assert response.status_code == 409
    assert response.json()["code"] == "payment_not_refundable"
    assert "AUTHORIZED" in response.json()["message"]
    assert row_counts(bff_database) == before


def line(line_no: Any, amount_minor: Any) -> dict[str, Any]:
    return {"line_no": line_no, "amount_minor": amount_minor}


@pytest.mark.parametrize(
    ("lines", "code"),
    [
        ([line(0, 1001)], "refund_exceeds_captured"),
        ([line(1, 250), line(0, 1001)], "refund_exceeds_captured"),
        ([line(2, 1)], "unknown_line"),
        ([line(-1, 1)], "unknown_line"),
        ([line(0, 1), line(0, 1)], "invalid_refund"),
    ],
)
def test_a_refund_beyond_the_rules_is_422_and_nothing_is_written(
    api: TestClient,
    projector: Projector,
    bff_database: str,
    lines: list[dict[str, int]],
    code: str,
) -> None:
    payment_id = captured_payment(api, projector)
    before = row_counts(bff_database)

    response = refund(api, payment_id, {"lines": lines})

    assert response.status_code == 422
    assert response.json()["code"] == code
    assert response.json()["message"]
    assert row_counts(bff_database) == before


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"lines": [line(0, 0)]}, "lines.0.amount_minor", "must_be_positive"),
        ({"lines": [line(0, -5)]}, "lines.0.amount_minor", "must_be_positive"),
        ({"lines": [line(0, 2**63)]}, "lines.0.amount_minor", "too_large"),
        ({"lines": [line("0", 5)]}, "lines.0.line_no", "invalid_type"),
        ({"lines": []}, "lines", "too_few_items"),
        ({"reason": ""}, "reason", "too_short"),
        ({"reason": " padded"}, "reason", "invalid_format"),
        ({"amount_minor": 5}, "amount_minor", "unknown_field"),
    ],
)
def test_an_invalid_refund_request_names_its_field(
    api: TestClient,
    projector: Projector,
    bff_database: str,
    body: dict[str, Any],
    field: str,
    code: str,
) -> None:
    payment_id = captured_payment(api, projector)
    before = row_counts(bff_database)

    response = refund(api, payment_id, body)

    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [(field, code)]
    assert row_counts(bff_database) == before


def test_concurrent_refunds_of_one_payment_never_exceed_what_was_captured(
    api: TestClient, projector: Projector, bff_database: str
) -> None:
    payment_id = captured_payment(api, projector)
    body = {"lines": [{"line_no": 0, "amount_minor": 300}]}

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: refund(api, payment_id, body), range(8)))

    # Line 0 captured 1000: three refunds of 300 fit, a fourth would not.
    assert sorted(a.status_code for a in answers) == [202] * 3 + [422] * 5
    assert {a.json()["code"] for a in answers if a.status_code == 422} == {
        "refund_exceeds_captured"
    }
    assert sum(e.amount_minor for e in refund_events(bff_database)) == 900
    assert status(api, payment_id)["lines"][0]["refundable_minor"] == 100


def test_paid_back_refunds_make_the_payment_partially_then_fully_refunded(
    api: TestClient, projector: Projector
) -> None:
    payment_id = captured_payment(api, projector)
    first = refund(api, payment_id, {"lines": [{"line_no": 1, "amount_minor": 250}]}).json()
    rest = refund(api, payment_id).json()

    deliver(
        projector,
        refunded(payment_id, first["refund_id"], {1: 250}, refunded_minor=250, captured_minor=1250),
    )
    shown = status(api, payment_id)
    assert (shown["status"], shown["refunded_minor"]) == ("PARTIALLY_REFUNDED", 250)
    assert [r["status"] for r in shown["refunds"]] == ["REFUNDED", "REFUND_REQUESTED"]

    deliver(
        projector,
        refunded(
            payment_id, rest["refund_id"], {0: 1000}, refunded_minor=1250, captured_minor=1250
        ),
    )
    shown = status(api, payment_id)
    assert (shown["status"], shown["refunded_minor"], shown["refundable_minor"]) == (
        "REFUNDED",
        1250,
        0,
    )
    assert [r["status"] for r in shown["refunds"]] == ["REFUNDED", "REFUNDED"]
    assert [x["refunded_minor"] for x in shown["lines"]] == [1000, 250]
    assert [h["status"] for h in shown["history"]][-2:] == ["PARTIALLY_REFUNDED", "REFUNDED"]
    assert refund(api, payment_id).json()["code"] == "payment_not_refundable"


def test_a_failed_refund_shows_its_reason_and_may_be_asked_again(
    api: TestClient, projector: Projector, bff_database: str
) -> None:
    payment_id = captured_payment(api, projector)
    failed = refund(api, payment_id, {"reason": "customer changed their mind"}).json()

    deliver(projector, refund_failed(payment_id, failed["refund_id"], 1250))

    shown = status(api, payment_id)
    assert shown["status"] == "CAPTURED"
    [shown_refund] = shown["refunds"]
    assert shown_refund["status"] == "REFUND_FAILED"
    assert shown_refund["reason"] == "customer changed their mind"
    assert (shown_refund["failure_code"], shown_refund["failure_reason"]) == (
        "refund_declined",
        "the provider refused the refund",
    )
    assert shown["refundable_minor"] == 1250
    again = refund(api, payment_id)
    assert (again.status_code, again.json()["amount_minor"]) == (202, 1250)
    assert len(refund_events(bff_database)) == 2


def test_a_refund_the_provider_refused_in_part_leaves_the_refused_line_refundable(
    api: TestClient, projector: Projector
) -> None:
    payment_id = captured_payment(api, projector)
    whole = refund(api, payment_id).json()
    assert whole["amount_minor"] == 1250

    # The provider refused line 1: PaymentRefunded lists line 0 only.
    deliver(
        projector,
        refunded(
            payment_id, whole["refund_id"], {0: 1000}, refunded_minor=1000, captured_minor=1250
        ),
    )
    shown = status(api, payment_id)
    assert (shown["status"], shown["refunded_minor"], shown["refundable_minor"]) == (
        "PARTIALLY_REFUNDED",
        1000,
        250,
    )
    [shown_refund] = shown["refunds"]
    assert (shown_refund["status"], shown_refund["amount_minor"]) == ("REFUNDED", 1000)
    assert shown_refund["lines"] == [{"line_no": 0, "amount_minor": 1000}]
    assert [(x["refunded_minor"], x["refundable_minor"]) for x in shown["lines"]] == [
        (1000, 0),
        (0, 250),
    ]
    rest = refund(api, payment_id, {"lines": [{"line_no": 1, "amount_minor": 250}]})
    assert (rest.status_code, rest.json()["amount_minor"]) == (202, 250)


def test_a_partial_capture_refunds_only_the_captured_lines(
    api: TestClient, projector: Projector
) -> None:
    payment_id = captured_payment(api, projector, lines={0: 1000})

    shown = status(api, payment_id)
    assert (shown["status"], shown["captured_minor"]) == ("PARTIALLY_CAPTURED", 1000)
    assert [x["capture_status"] for x in shown["lines"]] == ["CAPTURED", "CAPTURE_FAILED"]

    refused = refund(api, payment_id, {"lines": [{"line_no": 1, "amount_minor": 1}]})
    whole = refund(api, payment_id)

    assert refused.json()["code"] == "refund_exceeds_captured"
    assert whole.json()["lines"] == [{"line_no": 0, "amount_minor": 1000}]


def test_an_outcome_for_a_refund_never_requested_is_permanent(
    api: TestClient, projector: Projector, bff_database: str
) -> None:
    payment_id = captured_payment(api, projector)
    before = row_counts(bff_database)

    with pytest.raises(UnknownRefund) as refused:
        deliver(
            projector,
            refunded(payment_id, "re_stranger", {0: 5}, refunded_minor=5, captured_minor=1250),
        )

    assert refused.value.code == "unknown_refund"
    assert row_counts(bff_database) == before
