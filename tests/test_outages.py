"""Outages of the infrastructure: the broker stopped for half a minute under load, PostgreSQL
stopped for ten seconds. Nothing is restarted by hand: every process rides the outage out and
picks up by itself, and every payment settles afterwards with nothing in the audit.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
import pytest
from e2e_support import health_status, payments_client

from payctl.chaos import audit_stack
from payctl.embedded import wait_for
from payctl.load import LoadGenerator, LoadResult, plan_payments
from payctl.rest import settled, wait_at_rest

if TYPE_CHECKING:
    from payctl.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

BROKER_OUTAGE_SECONDS = 30.0
DATABASE_OUTAGE_SECONDS = 10.0
# Before, during and after the broker outage: a few seconds of normal traffic, the outage, a
# few seconds after it.
RATE = 4.0
PAYMENTS = int(RATE * (BROKER_OUTAGE_SECONDS + 9))
SETTLE_TIMEOUT = 120.0


@pytest.fixture(scope="module")
def accepted() -> dict[str, str]:
    """Every payment the module's tests got a 202 for: payment id -> the status it ends in."""
    return {}


def test_the_bff_accepts_payments_while_the_broker_is_down_and_all_settle_after(
    own_stack: Stack, accepted: dict[str, str]
) -> None:
    pids = _pids(own_stack)
    load = LoadGenerator(
        own_stack.bff_url,
        own_stack.token,
        plan_payments(PAYMENTS, random.Random()),
        concurrency=4,
        rate=RATE,
    )
    load.start()
    # The pipeline works before the outage: some payments went all the way through.
    wait_for(lambda: _settled_so_far(own_stack, load.result) >= 5, 60, "first payments settled")

    own_stack.stop_broker()
    down_at = time.monotonic()
    try:
        # The outage itself: it lasts its time, and meanwhile no process may die of it.
        backlog_seen = 0.0
        while time.monotonic() - down_at < BROKER_OUTAGE_SECONDS:
            assert _pids(own_stack) == pids, "a process died while the broker was down"
            backlog_seen = max(backlog_seen, _bff_outbox_backlog(own_stack))
            time.sleep(1)
    finally:
        up_at = time.monotonic()
        own_stack.start_broker()
    result = load.wait(timeout=120)
    accepted.update(result.expected)

    # Ops see the accepted payments pile up in the BFF's outbox (its relay runs in the
    # projector), though the relay itself is held in a publish the broker does not answer.
    assert backlog_seen >= RATE * BROKER_OUTAGE_SECONDS / 4, backlog_seen
    during = [a.status for a in result.answers if down_at <= a.at <= up_at]
    assert during.count(202) >= RATE * BROKER_OUTAGE_SECONDS / 2, during
    assert set(during) == {202}, f"the BFF answered {set(during)} while the broker was down"
    assert result.failed == []
    wait_at_rest(own_stack, list(result.expected), SETTLE_TIMEOUT)
    # Consumers and relays reconnected on their own: nothing was restarted.
    assert _pids(own_stack) == pids
    report = audit_stack(own_stack, accepted)
    assert report.passed, f"logs in {own_stack.config.layout.logs}\n{report.summary()}"


@dataclass
class DatabaseOutage:
    pids_before: dict[str, int | None]
    pids_after: dict[str, int | None] = field(default_factory=dict)
    # process -> every /healthz status seen while the database was down
    health: dict[str, set[int | None]] = field(default_factory=dict)
    # A client paying straight through the outage, retrying each key until it gets its 202.
    load: LoadResult = field(default_factory=LoadResult)
    down: tuple[float, float] = (0.0, 0.0)
    payment_answer: httpx.Response | None = None  # one answer kept whole, headers and all


@pytest.fixture(scope="module")
def database_outage(own_stack: Stack) -> DatabaseOutage:
    """Stops PostgreSQL for DATABASE_OUTAGE_SECONDS while a client pays, records what every
    process answered meanwhile, then starts it again and waits until every process is healthy
    and the client got a 202 for each payment."""
    names = own_stack.process_names
    outage = DatabaseOutage(_pids(own_stack), health={name: set() for name in names})
    client = LoadGenerator(
        own_stack.bff_url,
        own_stack.token,
        plan_payments(int(DATABASE_OUTAGE_SECONDS * 2), random.Random()),
        concurrency=2,
        rate=2.0,
    )
    client.start()
    own_stack.stop_postgres()
    down_at = time.monotonic()
    try:
        with payments_client(own_stack) as http:
            while time.monotonic() - down_at < DATABASE_OUTAGE_SECONDS:
                for name in names:
                    outage.health[name].add(health_status(own_stack.health_url(name)))
                if outage.payment_answer is None:
                    outage.payment_answer = _try_to_pay(http)
                time.sleep(0.5)
    finally:
        outage.down = (down_at, time.monotonic())
        own_stack.start_postgres()
    wait_for(
        lambda: all(health_status(own_stack.health_url(n)) == 200 for n in names),
        60,
        "every process healthy after the database came back",
    )
    outage.pids_after = _pids(own_stack)
    outage.load = client.wait(timeout=120)
    return outage


def test_every_process_reports_not_ready_while_the_database_is_down(
    database_outage: DatabaseOutage,
) -> None:
    not_ready = {name: seen for name, seen in database_outage.health.items() if 503 not in seen}
    assert not_ready == {}, "these never answered 503 on /healthz while the database was down"


def test_every_process_recovers_from_a_database_outage_without_a_restart(
    own_stack: Stack, database_outage: DatabaseOutage, accepted: dict[str, str]
) -> None:
    assert database_outage.pids_after == database_outage.pids_before
    # The client that paid through the outage got a 202 for each payment in the end.
    assert database_outage.load.failed == []
    accepted.update(database_outage.load.expected)
    after = LoadGenerator(
        own_stack.bff_url, own_stack.token, plan_payments(20, random.Random()), concurrency=4
    ).run()
    assert after.failed == []
    accepted.update(after.expected)
    wait_at_rest(own_stack, list(accepted), SETTLE_TIMEOUT)
    report = audit_stack(own_stack, accepted)
    assert report.passed, f"logs in {own_stack.config.layout.logs}\n{report.summary()}"


def test_the_bff_answers_503_with_retry_after_while_the_database_is_down(
    database_outage: DatabaseOutage,
) -> None:
    since, until = database_outage.down
    during = [a.status for a in database_outage.load.answers if since <= a.at <= until]
    assert 503 in during, f"the BFF answered {set(during)} while the database was down"
    assert set(during) <= {503, None}, f"the BFF answered {set(during)}"
    answer = database_outage.payment_answer
    assert answer is not None
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["Retry-After"]) >= 1
    assert answer.json()["code"]


def _try_to_pay(http: httpx.Client) -> httpx.Response | None:
    [plan] = plan_payments(1, random.Random())
    try:
        return http.post("/v1/payments", json=plan.body, headers={"Idempotency-Key": plan.key})
    except httpx.TransportError:
        return None


def _pids(stack: Stack) -> dict[str, int | None]:
    return {name: stack.pid(name) for name in stack.process_names}


def _settled_so_far(stack: Stack, result: LoadResult) -> int:
    return settled(stack.database_url("bff"), [a.payment_id for a in list(result.accepted)])


def _bff_outbox_backlog(stack: Stack) -> float:
    metrics = httpx.get(f"{stack.urls['bff-projector']}/metrics", timeout=10).text
    found = re.search(r"^payments_outbox_backlog (\S+)$", metrics, re.M)
    return float(found.group(1)) if found else 0.0
