"""payctl bench without the stack: the open-loop pacing (against a slow server of the test's
own), the percentiles and timeline, the comparison table and the plot."""

from __future__ import annotations

import asyncio
import json
import random
from typing import TYPE_CHECKING

from aiohttp import web

from payctl.bench import openloop
from payctl.bench.openloop import Sent, drive
from payctl.bench.plot import plot
from payctl.bench.report import result_document, table
from payctl.bench.stats import FlowResult, percentiles
from payctl.load import Kind, PlannedPayment, planned_payment

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def plans(count: int) -> list[PlannedPayment]:
    rng = random.Random(7)
    return [planned_payment(f"k{n}", Kind.APPROVED, rng) for n in range(count)]


def test_percentiles_are_in_milliseconds_with_the_count() -> None:
    summary = percentiles([i / 1000 for i in range(1, 101)])  # 1..100 ms

    assert summary["count"] == 100
    assert summary["max"] == 100.0
    assert 50 <= summary["p50"] <= 51
    assert 99 <= summary["p99"] <= 100
    assert percentiles([]) == {"count": 0}


async def _slow_server_run(rate: float, count: int, hold: float) -> tuple[list[Sent], int]:
    """Drives `count` requests at a server that holds each for `hold` seconds; returns what was
    sent and the most requests the server held at once."""
    holding = 0
    most = 0

    async def checkout(request: web.Request) -> web.Response:
        nonlocal holding, most
        holding += 1
        most = max(most, holding)
        await asyncio.sleep(hold)
        holding -= 1
        return web.json_response({"payment_id": request.headers["Idempotency-Key"]}, status=202)

    app = web.Application()
    app.router.add_post("/pay", checkout)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        sent = await drive(
            f"http://127.0.0.1:{port}/pay",
            plans(count),
            rate=rate,
            headers={},
            ok_status=202,
            on_answer=lambda _: None,
        )
    finally:
        await runner.cleanup()
    return sent, most


def test_the_load_is_open_loop_a_slow_server_does_not_slow_the_sending() -> None:
    # 40 requests at 100/s against a server that takes 1 s each: a closed loop would send one
    # at a time; an open loop has nearly all of them at the server at once.
    sent, most = asyncio.run(_slow_server_run(rate=100, count=40, hold=1.0))

    assert most >= 30
    assert all(s.status == 202 for s in sent)
    # Latency counts from when the request was due, so it includes the server's hold.
    assert all(s.latency is not None and s.latency >= 1.0 for s in sent)
    dues = [s.due for s in sent]
    assert dues == sorted(dues)
    assert abs((dues[-1] - dues[0]) - 39 / 100) < 0.01


def _flow(name: str, captured_after: float, failed: int = 0) -> FlowResult:
    start = 1_000_000.0
    sent = [Sent(n, f"k{n}", start + n * 0.1) for n in range(50)]
    for s in sent:
        s.answered = s.due + 0.02
        s.status = 202
        s.body = {"payment_id": s.key}
    for s in sent[:failed]:
        s.status, s.error, s.body = 503, "provider_unavailable", None
    accepted = {s.key: (s.due, s.answered) for s in sent if s.error is None and s.answered}
    return FlowResult(
        name=name,
        started=start,
        sent=sent,
        accepted=accepted,
        milestones={
            "ORDER_CONFIRMED": {k: d + captured_after / 2 for k, (d, _) in accepted.items()},
            "CAPTURED": {k: d + captured_after for k, (d, _) in accepted.items()},
        },
        load_seconds=5.0,
        drain_seconds=captured_after,
        ledger={"exactly_once": True},
    )


def test_a_flow_summary_counts_latency_from_the_click_and_failures_by_code() -> None:
    summary = _flow("async", captured_after=0.5, failed=5).summary()

    assert summary["requests"] == 50
    assert summary["accepted"] == 45
    assert summary["errors"] == {"provider_unavailable": 5}
    assert summary["accept_ms"]["p99"] == 20.0
    assert summary["to_captured_ms"]["p50"] == 500.0
    assert summary["to_order_confirmed_ms"]["p50"] == 250.0
    assert summary["throughput_per_s"]["offered"] == 10.0


def test_the_table_shows_both_flows_and_their_ratio_and_the_plot_is_a_png(tmp_path: Path) -> None:
    config = {"rate": 10.0, "duration": 5.0, "provider_latency_ms": 50, "outage_seconds": 0}
    document = result_document(config, [_flow("async", 0.5), _flow("sync", 1.0)])

    printed = table(document)
    assert "click→CAPTURED p50 ms" in printed
    assert document["ratios_sync_over_async"]["click→CAPTURED p50 ms"] == 2.0
    json.dumps(document, allow_nan=False)  # the timeline's empty seconds are null, not NaN
    plot(document, tmp_path / "result.png")
    assert (tmp_path / "result.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_client_that_cannot_keep_up_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(openloop, "MAX_IN_FLIGHT", 5)

    sent, most = asyncio.run(_slow_server_run(rate=200, count=20, hold=0.5))

    assert most <= 5
    overloaded = [s for s in sent if s.error == "client_overloaded"]
    assert overloaded, "requests beyond the in-flight bound are reported, not silently delayed"
    assert all(s.status is None for s in overloaded)
