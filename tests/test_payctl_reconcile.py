"""`payctl reconcile` on a live stack of its own: a settled run reconciles clean, a service's
table that disagrees names exactly its payment, a range of time leaves earlier payments out,
refunded payments reconcile clean, and a broker or database it cannot reach is a clear
refusal."""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import psycopg
import pytest
from click.testing import CliRunner
from confluent_kafka import Producer
from e2e_support import new_payment, pay, payments_client, wait_status
from ops_support import ops_env, payctl, payctl_json

from payctl.cli import main
from payctl.embedded import free_port
from payctl.rest import wait_at_rest
from paykit.kafka import producer_config
from payment_events.catalog import CATALOG

if TYPE_CHECKING:
    from collections.abc import Iterator

    from payctl.stack import Stack

pytestmark = pytest.mark.e2e

SETTLE_TIMEOUT = 90.0


@dataclass(frozen=True)
class Run:
    first: str  # accepted and settled before the others were sent
    later: list[str]
    later_from: datetime  # when the BFF accepted the first of the later ones

    @property
    def all(self) -> list[str]:
        return [self.first, *self.later]


@pytest.fixture(scope="module")
def run(own_stack: Stack) -> Run:
    with payments_client(own_stack) as client:
        first = pay(client, new_payment(sellers=[700, 300]))
        wait_at_rest(own_stack, [first], SETTLE_TIMEOUT)
        later = [
            pay(client, new_payment(sellers=[1000])),
            pay(client, new_payment(method="pm_card_declined")),
            pay(client, new_payment(customer="cus_blocked")),
        ]
    wait_at_rest(own_stack, [first, *later], SETTLE_TIMEOUT)
    with psycopg.connect(own_stack.database_url("bff")) as conn:
        row = conn.execute(
            "SELECT min(created_at) FROM payments WHERE payment_id = ANY(%s)", (later,)
        ).fetchone()
    assert row is not None
    return Run(first, later, row[0])


@contextlib.contextmanager
def captured_minor_one_short(stack: Stack, payment_id: str) -> Iterator[None]:
    """Capture's own total of one payment disagrees with everything else, until the block ends."""
    # Short rather than over: capture's table refuses more captured than held.
    sql = "UPDATE payments SET captured_minor = captured_minor - %s WHERE payment_id = %s"
    with psycopg.connect(stack.database_url("capture"), autocommit=True) as conn:
        assert conn.execute(sql, (1, payment_id)).rowcount == 1
        try:
            yield
        finally:
            conn.execute(sql, (-1, payment_id))


def test_a_settled_run_reconciles_clean(own_stack: Stack, run: Run) -> None:
    document = payctl_json(own_stack, "reconcile")

    assert document["payments_checked"] == len(run.all)
    assert document["by_status"] == {"CAPTURED": 2, "DECLINED": 1, "FAILED": 1}
    assert document["violations"] == []
    assert document["violations_by_check"] == {}


def test_a_service_table_that_disagrees_names_that_payment(own_stack: Stack, run: Run) -> None:
    with captured_minor_one_short(own_stack, run.first):
        as_json = payctl(own_stack, "reconcile", "--json")
        as_table = payctl(own_stack, "reconcile")

    assert as_json.exit_code == 1, as_json.output
    document = json.loads(as_json.stdout)
    assert document["payments_checked"] == len(run.all)
    assert document["violations_by_check"] == {"agreement": 1}
    [violation] = document["violations"]
    assert violation["check"] == "agreement"
    assert violation["payment_id"] == run.first
    assert "capture's payment captured 999, the BFF shows 1000" in violation["detail"]

    assert as_table.exit_code == 1
    assert "1 mismatch (agreement 1)" in as_table.stdout
    [line] = [line for line in as_table.stdout.splitlines() if run.first in line]
    assert line.startswith("agreement")


def test_a_range_of_time_checks_only_the_payments_accepted_in_it(
    own_stack: Stack, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No margin before the range: the first payment's events lie just before it, and must
    # then be left unread (the stack runs on this one host's clock).
    monkeypatch.setattr("payctl.topic_scan.CLOCK_MARGIN", timedelta(0))
    everything = payctl_json(own_stack, "reconcile")
    with captured_minor_one_short(own_stack, run.first):
        later = payctl_json(own_stack, "reconcile", "--from", run.later_from.isoformat())
        until = payctl(own_stack, "reconcile", "--json", "--until", run.later_from.isoformat())
        recent = payctl(own_stack, "reconcile", "--json", "--since", "1h")

    assert later["payments_checked"] == len(run.later)
    assert later["violations"] == []
    assert later["messages_read"] < everything["messages_read"]
    assert until.exit_code == 1, until.output
    assert json.loads(until.stdout)["payments_checked"] == 1
    assert [v["payment_id"] for v in json.loads(until.stdout)["violations"]] == [run.first]
    assert recent.exit_code == 1, recent.output
    assert json.loads(recent.stdout)["payments_checked"] == len(run.all)


def test_a_dead_letter_is_named_only_by_a_range_it_was_written_in(
    own_stack: Stack, run: Run
) -> None:
    # To the millisecond, as Kafka stamps messages: a dead letter produced within the same
    # millisecond is stamped no earlier than this, so `--until` leaves it out.
    now = datetime.now(UTC)
    before = now.replace(microsecond=now.microsecond // 1000 * 1000)
    key = f"poison-{uuid.uuid4().hex}"
    producer = Producer(producer_config(own_stack.bootstrap, "test-reconcile"))
    producer.produce(
        CATALOG[0].dead_letter, key=key, value=b"junk", headers={"dlq.error.code": "test"}
    )
    assert producer.flush(30) == 0

    recent = payctl(own_stack, "reconcile", "--json", "--since", "1h")
    earlier = payctl(own_stack, "reconcile", "--json", "--until", before.isoformat())

    assert recent.exit_code == 1, recent.output
    assert [(v["check"], v["payment_id"]) for v in json.loads(recent.stdout)["violations"]] == [
        ("dead_letter", key)
    ]
    assert earlier.exit_code == 0, earlier.output
    assert json.loads(earlier.stdout)["payments_checked"] == len(run.all)


def test_payments_refunded_in_full_and_in_part_reconcile_clean(own_stack: Stack) -> None:
    # A range from now: the dead letter an earlier test wrote is left out of it.
    since = datetime.now(UTC)
    with payments_client(own_stack) as client:
        full = pay(client, new_payment(sellers=[700, 300]))
        partial = pay(client, new_payment(sellers=[600, 400]))
        for payment_id in (full, partial):
            wait_status(client, payment_id, {"CAPTURED"}, SETTLE_TIMEOUT)
        refunds = {
            full: {},  # everything captured
            partial: {"lines": [{"line_no": 1, "amount_minor": 150}], "reason": "returned"},
        }
        for payment_id, body in refunds.items():
            response = client.post(
                f"/v1/payments/{payment_id}/refunds",
                json=body,
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
            assert response.status_code == 202, response.text
        wait_status(client, full, {"REFUNDED"}, SETTLE_TIMEOUT)
        shown = wait_status(client, partial, {"PARTIALLY_REFUNDED"}, SETTLE_TIMEOUT)
    assert shown["refunded_minor"] == 150
    wait_at_rest(own_stack, [full, partial], SETTLE_TIMEOUT)

    document = payctl_json(own_stack, "reconcile", "--from", since.isoformat())

    assert document["payments_checked"] == 2
    assert document["by_status"] == {"PARTIALLY_REFUNDED": 1, "REFUNDED": 1}
    assert document["violations"] == []


def test_a_broker_it_cannot_reach_is_a_refusal_with_exit_2(own_stack: Stack) -> None:
    bootstrap = f"127.0.0.1:{free_port()}"
    env = {**ops_env(own_stack), "KAFKA_BOOTSTRAP_SERVERS": bootstrap}

    result = CliRunner().invoke(main, ["reconcile"], env=env)

    assert result.exit_code == 2, result.output
    assert f"cannot reach the broker at {bootstrap}" in result.output


def test_a_database_it_cannot_reach_is_a_refusal_with_exit_2(own_stack: Stack) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/capture"
    env = {**ops_env(own_stack), "CAPTURE_DATABASE_URL": url}

    result = CliRunner().invoke(main, ["reconcile", "--json"], env=env)

    assert result.exit_code == 2, result.output
    assert "cannot reach the capture database" in result.output
