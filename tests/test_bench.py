"""`payctl bench` end to end, small: both flows on a fresh stack of its own, with the provider
down for two seconds in the middle of each. The asynchronous flow accepts every payment and
captures each once the provider is back; the synchronous one fails the shoppers who came during
the outage."""

from __future__ import annotations

import json
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
from payctl.services import SERVICE_NAMES

if TYPE_CHECKING:
    from pathlib import Path

    from payctl.stack import Stack

pytestmark = pytest.mark.e2e


def test_bench_compares_both_flows_through_a_provider_outage(tmp_path: Path) -> None:
    out = tmp_path / "result"
    result = CliRunner().invoke(
        main,
        [
            "bench",
            "--rate", "10",
            "--duration", "4",
            "--provider-latency-ms", "20",
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
    asynchronous = document["flows"]["async"]["summary"]
    synchronous = document["flows"]["sync"]["summary"]
    assert asynchronous["requests"] == synchronous["requests"] == 40
    # This design takes every payment while the provider is down, and finishes each later.
    assert asynchronous["accepted"] == asynchronous["completed"] == 40
    assert asynchronous["failed"] == 0
    assert asynchronous["ledger"]["exactly_once"], asynchronous["ledger"]
    assert asynchronous["to_captured_ms"]["count"] == 40
    assert asynchronous["to_order_confirmed_ms"]["count"] == 40
    # The synchronous checkout has nothing to fall back on.
    assert synchronous["errors"].get("provider_unavailable", 0) > 0
    assert synchronous["completed"] == synchronous["accepted"] < 40
    assert synchronous["ledger"]["exactly_once"], synchronous["ledger"]
    assert "ratios_sync_over_async" in document
    assert (out / "result.png").read_bytes()[:4] == b"\x89PNG"
    assert "click→CAPTURED p99 ms" in result.output


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
    assert set(usage.by_process) == own | set(SERVICE_NAMES)
    for name in (*own, "bff", "billing-consumer", "capture-consumer"):
        assert usage.by_process[name] > 0, name
    assert usage.total == sum(usage.by_process.values())
    assert "whole stack" in usage.table()


def pay_and_wait(client: httpx.Client, payments: int) -> None:
    for payment_id in [pay(client, new_payment()) for _ in range(payments)]:
        wait_status(client, payment_id, {"CAPTURED"})
