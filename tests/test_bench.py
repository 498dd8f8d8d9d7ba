"""`payctl bench` end to end, small: both flows on a fresh stack of its own, with the provider
down for two seconds in the middle of each. The asynchronous flow accepts every payment and
captures each once the provider is back; the synchronous one fails the shoppers who came during
the outage."""

from __future__ import annotations

import json
import os
import random
import uuid
from typing import TYPE_CHECKING

import httpx
import pytest
from click.testing import CliRunner
from e2e_support import new_payment, pay, payments_client, wait_status

from payctl.bench.cpu import measure
from payctl.bench.flows import Load, ask_again_unanswered
from payctl.bench.openloop import Sent
from payctl.cli import main
from payctl.load import Kind, planned_payment
from payctl.services import CONSUMER_SERVICES, SERVICE_NAMES

if TYPE_CHECKING:
    from pathlib import Path

    from payctl.stack import Stack

pytestmark = pytest.mark.e2e


def test_bench_finds_both_ceilings_then_compares_the_flows_through_a_provider_outage(
    tmp_path: Path,
) -> None:
    out = tmp_path / "result"
    result = CliRunner().invoke(
        main,
        [
            "bench",
            "--ceiling",
            "--ceiling-steps", "2",
            "--step-duration", "3",
            "--rate", "4",
            "--duration", "4",
            "--provider-latency", "20",
            "--outage", "2",
            "--seed", "11",
            "--no-progress",
            "--out", str(out),
            "--data-dir", str(tmp_path / "stack"),
            "--drain-timeout", "120",
        ],
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    document = json.loads((out / "result.json").read_text())
    found = json.loads((out / "ceiling.json").read_text())
    # Two steps per flow, then both flows at 80 % of the async ceiling (at least the floor).
    for flow in ("async", "sync"):
        assert len(found["flows"][flow]["steps"]) == 2
    rate = max(1.0, round(0.8 * found["flows"]["async"]["ceiling_per_s"], 2))
    assert document["config"]["rate"] == rate
    assert "async_over_sync_ceiling" in found["ratios"]
    assert found["at_80_percent_of_async_ceiling"]["sync"]["rate"] == rate
    assert (out / "ceiling.png").read_bytes()[:4] == b"\x89PNG"
    assert "async ceiling" in result.output

    asynchronous = document["flows"]["async"]["summary"]
    synchronous = document["flows"]["sync"]["summary"]
    requests = document["config"]["payments_per_flow"]
    assert asynchronous["requests"] == synchronous["requests"] == requests
    # This design takes every payment while the provider is down, and finishes each later.
    assert asynchronous["accepted"] == asynchronous["completed"] == requests
    assert asynchronous["failed"] == 0
    # The audit accounts for every payment the stack took, the ceiling steps' too.
    assert asynchronous["ledger"]["exactly_once"], asynchronous["ledger"]
    assert asynchronous["ledger"]["payments_audited"] > requests
    assert asynchronous["to_captured_ms"]["count"] == requests
    assert asynchronous["to_order_confirmed_ms"]["count"] == requests
    # The synchronous checkout has nothing to fall back on.
    assert synchronous["errors"].get("provider_unavailable", 0) > 0
    assert synchronous["completed"] == synchronous["accepted"] < requests
    assert synchronous["ledger"]["exactly_once"], synchronous["ledger"]
    assert "ratios_sync_over_async" in document
    assert (out / "result.png").read_bytes()[:4] == b"\x89PNG"
    assert "click→CAPTURED p99 ms" in result.output
    # CPU per captured payment, by process: every process on each flow's path did some work.
    cpu = {flow: document["flows"][flow]["summary"]["cpu_ms_per_captured_payment"]
           for flow in ("async", "sync")}  # fmt: skip
    # PostgreSQL's share of each service is its database's backends. (The broker and
    # PostgreSQL are the bench's own unless the suite runs against servers of its own.)
    broker = [] if "KAFKA_BOOTSTRAP_SERVERS" in os.environ else ["kafka"]
    databases = {
        "async": ("bff", "psp", "billing", "orders", "capture"),
        "sync": ("baseline", "psp"),
    }
    if "DATABASE_URL" in os.environ:
        databases = {"async": (), "sync": ()}
    for process in ("bff", "bff-projector", *CONSUMER_SERVICES, "psp-sim", *broker):
        assert cpu["async"][process] > 0, process
    for process in ("baseline", "psp-sim"):
        assert cpu["sync"][process] > 0, process
    for flow, names in databases.items():
        shares = [cpu[flow][f"postgres {database}"] for database in names]
        # (The kernel counts CPU in 10 ms ticks per process: the few payments of this test can
        # leave one database's backends at 0, never all of them.)
        assert not names or sum(shares) > 0, (flow, shares)
    assert "bff" not in cpu["sync"]  # stopped while the synchronous flow runs
    assert cpu["async"]["stack"] == pytest.approx(
        sum(v for k, v in cpu["async"].items() if k not in ("stack", "load generator", "machine")),
        abs=0.1,
    )
    assert "CPU ms per captured payment" in result.output


def test_a_request_that_got_no_answer_is_asked_again_with_its_key(stack: Stack) -> None:
    rng = random.Random(5)
    run = uuid.uuid4().hex[:8]
    taken, never_sent = (planned_payment(f"bench-{run}-{n}", Kind.APPROVED, rng) for n in (0, 1))
    auth = {"Authorization": f"Bearer {stack.token}"}
    # The BFF took the first, but its answer was lost; the second never reached it.
    first = httpx.post(
        f"{stack.bff_url}/v1/payments",
        json=taken.body,
        headers={**auth, "Idempotency-Key": taken.key},
        timeout=30,
    )
    assert first.status_code == 202
    load = Load([taken, never_sent], rate=1, provider_latency_ms=0, outage_seconds=0,
                drain_timeout=10, progress=False)  # fmt: skip
    sent = [Sent(0, taken.key, 1.0, error="TimeoutError"), Sent(1, never_sent.key, 2.0)]
    sent[1].error = "ServerDisconnectedError"

    found = ask_again_unanswered(stack.bff_url, auth, load, sent)

    assert set(found) >= {first.json()["payment_id"]}  # replayed, not taken twice
    assert len(found) == 2


def test_the_cpu_of_every_stack_process_is_counted_by_name(stack: Stack) -> None:
    # Payments' work inside the window: every process on their path must show some CPU.
    with payments_client(stack) as client:
        usage = measure(stack, lambda: pay_and_wait(client, 5))

    # The session stack's databases are on the suite's PostgreSQL, not on one of its own.
    own = {"postgres"} if stack.postgres_url else set()
    if stack.config.embeds_broker:
        own.add("kafka")
    # An embedded PostgreSQL's backends count under their database: each service's share.
    backends = {name for name in usage.by_process if name.startswith("postgres ")}
    assert set(usage.by_process) - backends == own | set(SERVICE_NAMES)
    for name in (*own, "bff", "billing-consumer", "capture-consumer"):
        assert usage.by_process[name] > 0, name
    if "postgres" in own:
        assert usage.by_process["postgres bff"] > 0
        assert usage.by_process["postgres capture"] > 0
    assert usage.total == sum(usage.by_process.values())
    assert "whole stack" in usage.table()


def pay_and_wait(client: httpx.Client, payments: int) -> None:
    for payment_id in [pay(client, new_payment()) for _ in range(payments)]:
        wait_status(client, payment_id, {"CAPTURED"})
