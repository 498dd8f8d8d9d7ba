"""payctl bench --ceiling without the stack: which steps are sustained, how the search steps the
rate, CPU per captured payment by process, and the ceiling's table and plot."""

from __future__ import annotations

from typing import TYPE_CHECKING

from payctl.bench.ceiling import P99_LIMIT_MS, judge, search
from payctl.bench.cpu import CpuUsage, database_of
from payctl.bench.openloop import Sent
from payctl.bench.plot import plot_ceiling
from payctl.bench.report import ceiling_document, ceiling_table, result_document, table
from payctl.bench.stats import FlowResult

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

START = 1_000_000.0
LOAD_SECONDS = 10.0


def step_run(
    rate: float, captured_after: Callable[[float], float], failed: int = 0, name: str = "async"
) -> FlowResult:
    """A step at `rate` for LOAD_SECONDS whose payment clicked at t (seconds into the load) is
    captured `captured_after(t)` seconds later."""
    sent = [Sent(n, f"k{n}", START + n / rate) for n in range(round(rate * LOAD_SECONDS))]
    for s in sent:
        s.answered, s.status, s.body = s.due + 0.01, 202, {"payment_id": s.key}
    for s in sent[:failed]:
        s.status, s.error, s.body = 503, "provider_unavailable", None
    accepted = {s.key: (s.due, s.due + 0.01) for s in sent if s.error is None}
    captured = {k: d + captured_after(d - START) for k, (d, _) in accepted.items()}
    return FlowResult(
        name=name,
        started=START,
        sent=sent,
        accepted=accepted,
        milestones={"ORDER_CONFIRMED": captured, "CAPTURED": captured},
        load_seconds=LOAD_SECONDS,
        drain_seconds=0.5,
        ledger={"exactly_once": True},
        cpu=CpuUsage(LOAD_SECONDS, {"bff": 0.2, "postgres": 0.1}, load_generator=0.05, machine=0.4),
    )


def flow_with_capacity(capacity: float) -> Callable[[float], FlowResult]:
    """Captures in 0.3 s up to `capacity` payments per second, in 3 s beyond it."""
    return lambda rate: step_run(rate, lambda t: 0.3 if rate <= capacity else 3.0)


def test_the_ceiling_is_the_highest_rate_sustained_within_the_search_precision() -> None:
    tried: list[float] = []

    found = search(
        "async", flow_with_capacity(37), start=10, floor=1, on_step=lambda s: tried.append(s.rate)
    )

    assert 37 / 1.15 <= found.ceiling <= 37
    # Up by half each time until a step fails, then between the last good and first bad rate.
    assert tried[:4] == [10, 15, 22.5, 33.75]
    assert tried[4] > 37
    assert all(s.sustained == (s.rate <= 37) for s in found.steps)


def test_a_flow_that_sustains_nothing_steps_down_to_the_floor_and_has_a_ceiling_of_zero() -> None:
    found = search("sync", flow_with_capacity(0), start=8, floor=1)

    assert found.ceiling == 0.0
    assert [s.rate for s in found.steps] == [8, 4, 2, 1]
    assert not any(s.sustained for s in found.steps)


def test_p99_over_the_limit_fails_a_step() -> None:
    # One payment in a hundred takes longer than the limit: p99 is over it.
    step = judge(10, step_run(10, lambda t: 2.5 if int(t * 10) % 50 == 0 else 0.2))

    assert not step.sustained
    assert step.why is not None
    assert "p99" in step.why
    assert step.figures["to_captured_p99_ms"] >= P99_LIMIT_MS


def test_a_growing_backlog_fails_a_step_even_under_the_p99_limit() -> None:
    # Each payment waits longer than the one before (0 s at the start, 1.5 s at the end): the
    # captures fall behind the offered rate although every one is under 2 s.
    step = judge(10, step_run(10, lambda t: 0.15 * t))

    assert step.figures["to_captured_p99_ms"] < P99_LIMIT_MS
    assert not step.sustained
    assert step.why is not None
    assert "backlog growing" in step.why


def test_failed_requests_fail_a_step() -> None:
    step = judge(10, step_run(10, lambda t: 0.2, failed=1))

    assert not step.sustained
    assert step.why == "1 of 100 requests failed"


def test_cpu_is_reported_per_captured_payment_by_process_with_the_stack_and_machine() -> None:
    usage = CpuUsage(10.0, {"bff": 0.25, "postgres": 0.5}, load_generator=0.1, machine=1.0)

    assert usage.per_payment_ms(100) == {
        "postgres": 5.0,
        "bff": 2.5,
        "stack": 7.5,
        "load generator": 1.0,
        "machine": 10.0,
    }
    assert usage.per_payment_ms(0) == {}


def test_postgres_backends_count_as_their_database_and_the_servers_own_processes_as_postgres() -> (
    None
):
    assert database_of("postgres: postgres psp [local] idle") == "psp"
    assert database_of("postgres: app bff 127.0.0.1(51234) idle in transaction") == "bff"
    assert database_of("postgres: autovacuum worker capture") == "capture"
    for own in ("postgres: checkpointer ", "postgres: io worker 0", "postgres: walwriter "):
        assert database_of(own) is None


def test_the_flow_table_has_cpu_per_captured_payment_by_process() -> None:
    config = {"rate": 10.0, "duration": 10.0, "provider_latency_ms": 50, "outage_seconds": 0}
    flows = [step_run(10, lambda t: 0.3), step_run(10, lambda t: 0.4, name="sync")]
    document = result_document(config, flows)

    summary = document["flows"]["async"]["summary"]
    # 0.3 CPU seconds of the stack for 100 captured payments.
    assert summary["cpu_ms_per_captured_payment"]["stack"] == 3.0
    assert summary["cpu_ms_per_captured_payment"]["bff"] == 2.0
    printed = table(document)
    assert "CPU ms per captured payment" in printed
    assert "  postgres" in printed


def test_the_ceiling_document_has_both_ceilings_their_ratio_and_a_plot(tmp_path: Path) -> None:
    searches = {
        "async": search("async", flow_with_capacity(40), start=10, floor=1),
        "sync": search("sync", flow_with_capacity(20), start=10, floor=1),
    }
    config = {"rate": 32.0, "duration": 10.0, "provider_latency_ms": 50, "outage_seconds": 0}
    measured = result_document(
        config, [step_run(32, lambda t: 0.3), step_run(32, lambda t: 0.3, name="sync")]
    )

    found = ceiling_document(measured, searches)

    ceilings = {name: flow["ceiling_per_s"] for name, flow in found["flows"].items()}
    assert found["ratios"]["async_over_sync_ceiling"] == round(
        ceilings["async"] / ceilings["sync"], 2
    )
    assert found["at_80_percent_of_async_ceiling"]["sync"]["accept_ms"]["p99"] == 10.0
    assert "async ceiling" in ceiling_table(found)
    plot_ceiling(found, tmp_path / "ceiling.png")
    assert (tmp_path / "ceiling.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
