"""Idempotency keys, honoured as Stripe honours them, also when twins arrive together."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import psycopg
import pytest

from payctl.embedded import wait_for

if TYPE_CHECKING:
    from conftest import PspApi

pytestmark = pytest.mark.integration


def test_the_same_request_again_replays_the_first_answer(psp: PspApi) -> None:
    first = psp.authorize(key="key-replay", reference="pay_replay")
    again = psp.authorize(key="key-replay", reference="pay_replay")

    assert again.status_code == first.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(psp.operations(idempotency_key="key-replay")) == 1


def test_a_replayed_refusal_stays_a_refusal(psp: PspApi) -> None:
    auth = psp.authorize(amount_minor=100).json()
    refused = psp.capture(auth["id"], 500, key="key-over", reference="po_1")
    again = psp.capture(auth["id"], 500, key="key-over", reference="po_1")

    assert refused.status_code == again.status_code == 409
    assert again.json() == refused.json()
    assert again.headers["Idempotent-Replayed"] == "true"


def test_the_same_key_with_another_request_is_refused(psp: PspApi) -> None:
    psp.authorize(key="key-reused", amount_minor=1000, reference="pay_reused")
    other = psp.authorize(key="key-reused", amount_minor=2000, reference="pay_reused")

    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"
    [row] = psp.operations(idempotency_key="key-reused")
    assert row["amount_minor"] == 1000


def test_a_key_is_bound_to_the_endpoint_it_was_first_used_on(psp: PspApi) -> None:
    auth = psp.authorize(key="key-endpoint").json()
    response = psp.void(auth["id"], key="key-endpoint")

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"


def test_two_identical_requests_in_flight_make_one_authorization(
    psp: PspApi, psp_database: str
) -> None:
    with (
        psycopg.connect(psp_database) as blocker,
        psycopg.connect(psp_database, autocommit=True) as watcher,
    ):
        # Holding the ledger makes the first request wait inside its transaction, key claimed,
        # so the twin certainly arrives while the first is in flight.
        blocker.execute("LOCK TABLE operations IN EXCLUSIVE MODE")
        with ThreadPoolExecutor(2) as pool:
            twins = [
                pool.submit(psp.authorize, key="key-twins", reference="pay_twins") for _ in range(2)
            ]
            wait_for(
                lambda: _requests_waiting_on_locks(watcher) == 2, 10, "both requests in flight"
            )
            blocker.commit()
            responses = [twin.result(timeout=30) for twin in twins]

    assert [r.status_code for r in responses] == [201, 201]
    assert responses[0].json() == responses[1].json()
    replayed = sorted(r.headers.get("Idempotent-Replayed", "false") for r in responses)
    assert replayed == ["false", "true"]
    assert len(psp.operations(idempotency_key="key-twins")) == 1


def _requests_waiting_on_locks(conn: psycopg.Connection[tuple[int]]) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    ).fetchone()
    assert row is not None
    return int(row[0])
