"""The operation functions in the database (migration 0003), called as psp-sim calls them: one
statement claims the key, checks the rules, writes the ledger row and stores the answer."""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from payctl.embedded import wait_for

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.integration

AUTHORIZE = (
    "SELECT result, status_code, outcome, operation_id, response"
    " FROM psp_authorize(%s, %s, %s, %s, 'EUR', 'pay_1', 'authorized', NULL, NULL)"
)
CAPTURE = (
    "SELECT result, status_code, outcome, operation_id, response"
    " FROM psp_capture(%s, %s, %s, %s, %s, 'po_1')"
)


@pytest.fixture
def db(psp_database: str) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    with psycopg.connect(psp_database, autocommit=True) as conn:
        yield conn


def call(conn: psycopg.Connection[tuple[Any, ...]], query: str, *params: object) -> tuple[Any, ...]:
    row = conn.execute(query, params).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return row


def operations_under(conn: psycopg.Connection[tuple[Any, ...]], key: str) -> int:
    row = conn.execute(
        "SELECT count(*) FROM operations WHERE idempotency_key = %s", [key]
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_twin_waits_for_the_call_in_flight_then_replays_its_answer(
    db: psycopg.Connection[tuple[Any, ...]], psp_database: str
) -> None:
    answers: list[tuple[Any, ...]] = []
    with psycopg.connect(psp_database) as first:
        # The first call's transaction stays open: its key is claimed but not committed.
        performed = call(first, AUTHORIZE, "k-twin", "fp", "auth_twin_1", 1000)
        twin = threading.Thread(
            target=lambda: answers.append(call(db, AUTHORIZE, "k-twin", "fp", "auth_twin_2", 1000))
        )
        twin.start()
        wait_for(lambda: waiting_on_locks(psp_database) == 1, 10, "the twin waiting on the key")
        first.commit()
        twin.join(10)

    [replayed] = answers
    assert performed[:4] == ("performed", 201, "authorized", "auth_twin_1")
    assert replayed[:4] == ("replayed", 201, None, "auth_twin_1")
    assert json.loads(replayed[4]) == json.loads(performed[4])
    assert operations_under(db, "k-twin") == 1


def test_the_twin_of_a_call_that_rolled_back_performs_it(
    db: psycopg.Connection[tuple[Any, ...]], psp_database: str
) -> None:
    with psycopg.connect(psp_database) as first:
        call(first, AUTHORIZE, "k-rollback", "fp", "auth_rolled_back", 1000)
        first.rollback()

    answer = call(db, AUTHORIZE, "k-rollback", "fp", "auth_after", 1000)

    assert answer[:4] == ("performed", 201, "authorized", "auth_after")
    assert operations_under(db, "k-rollback") == 1


def test_a_key_used_with_another_request_stores_and_changes_nothing(
    db: psycopg.Connection[tuple[Any, ...]],
) -> None:
    call(db, AUTHORIZE, "k-other", "fp-1", "auth_first", 1000)

    answer = call(db, AUTHORIZE, "k-other", "fp-2", "auth_second", 2000)

    assert answer == ("reused", None, None, None, None)
    assert operations_under(db, "k-other") == 1


def test_a_refusal_is_stored_with_its_code_and_message(
    db: psycopg.Connection[tuple[Any, ...]],
) -> None:
    call(db, AUTHORIZE, "k-auth", "fp", "auth_r", 1000)

    refused = call(db, CAPTURE, "k-over", "fp", "cap_over", "auth_r", 1001)
    again = call(db, CAPTURE, "k-over", "fp", "cap_over_2", "auth_r", 1001)

    assert refused[:4] == ("performed", 409, "amount_exceeds_authorization", None)
    assert json.loads(refused[4]) == {
        "code": "amount_exceeds_authorization",
        "message": "Cannot capture 1001: authorization auth_r has 1000 of 1000 left to capture",
    }
    assert again[:2] == ("replayed", 409)
    assert again[4] == refused[4]
    assert operations_under(db, "k-over") == 0


def waiting_on_locks(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
    assert row is not None
    return int(row[0])
