"""`payctl bench --ceiling`: the highest offered rate a flow sustains, found by stepping the rate
on one running stack. A step is sustained when every request was answered, every accepted
payment reached CAPTURED with click→CAPTURED p99 under the limit, and the captures kept up with
the offered rate over the step's second half (no growing backlog). The rate grows by GROWTH
until a step fails, then the search bisects (geometrically) between the last sustained rate and
the first failed one until they are within PRECISION of each other."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from payctl.bench.stats import FlowResult

P99_LIMIT_MS = 2000.0
# Captures per second over the second half of a step's load, as a share of the offered rate,
# below which the backlog is growing.
KEEPING_UP = 0.9
GROWTH = 1.5
PRECISION = 1.15
MAX_STEPS = 12


@dataclass(frozen=True)
class Step:
    rate: float
    sustained: bool
    why: str | None  # what failed, None when sustained
    figures: dict[str, Any]

    def document(self) -> dict[str, Any]:
        return {"rate": self.rate, "sustained": self.sustained, "why": self.why, **self.figures}


@dataclass(frozen=True)
class Search:
    flow: str
    ceiling: float  # 0.0 when not even the floor rate was sustained
    steps: list[Step]

    def document(self) -> dict[str, Any]:
        return {
            "ceiling_per_s": self.ceiling,
            "steps": [s.document() for s in sorted(self.steps, key=lambda s: s.rate)],
        }


def judge(rate: float, result: FlowResult) -> Step:
    """Whether `result`, a step's run at `rate`, was sustained, and its figures."""
    summary = result.summary()
    to_captured = summary.get("to_captured_ms", {})
    keeping_up = _second_half_capture_rate(result) / rate
    figures = {
        "requests": summary["requests"],
        "failed": summary["failed"],
        "completed": summary["completed"],
        "accept_p99_ms": summary["accept_ms"].get("p99"),
        "to_captured_p50_ms": to_captured.get("p50"),
        "to_captured_p99_ms": to_captured.get("p99"),
        "captured_share_of_offered_second_half": round(keeping_up, 3),
        "cpu_ms_per_captured_payment": summary["cpu_ms_per_captured_payment"],
        "exactly_once": summary["ledger"].get("exactly_once"),
    }
    why = None
    if summary["failed"]:
        why = f"{summary['failed']} of {summary['requests']} requests failed"
    elif summary["completed"] < summary["requests"]:
        why = f"{summary['requests'] - summary['completed']} payments not captured"
    elif (to_captured.get("p99") or math.inf) >= P99_LIMIT_MS:
        why = f"click→CAPTURED p99 {to_captured.get('p99')} ms"
    elif keeping_up < KEEPING_UP:
        why = f"backlog growing: captured {keeping_up:.0%} of the offered rate"
    return Step(round(rate, 2), why is None, why, figures)


def search(
    flow: str,
    run_step: Callable[[float], FlowResult],
    *,
    start: float,
    floor: float,
    max_steps: int = MAX_STEPS,
    on_step: Callable[[Step], None] = lambda step: None,
) -> Search:
    """Steps `run_step(rate)` up from `start` (or down towards `floor` while even `start` fails),
    at most `max_steps` times, and returns the highest rate sustained."""
    good: float | None = None
    bad: float | None = None
    rate = start
    steps: list[Step] = []
    while len(steps) < max_steps:
        step = judge(rate, run_step(rate))
        steps.append(step)
        on_step(step)
        if step.sustained:
            good = rate
        else:
            bad = rate
        if bad is None:
            rate *= GROWTH
        elif good is None:
            if rate <= floor:
                break
            rate = max(floor, rate / 2)
        elif bad / good < PRECISION:
            break
        else:
            rate = math.sqrt(good * bad)
    return Search(flow, round(good or 0.0, 2), steps)


def _second_half_capture_rate(result: FlowResult) -> float:
    half = result.load_seconds / 2
    begin, end = result.started + half, result.started + result.load_seconds
    captured = result.milestones.get("CAPTURED", {}).values()
    return sum(1 for at in captured if begin <= at < end) / max(half, 1e-9)


def ratios(searches: dict[str, Search], at_80: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """async/sync ceiling, and at 80 % of the async ceiling the synchronous checkout's latency
    (its answer is the capture) against the asynchronous flow's accept latency."""
    found: dict[str, Any] = {}
    if "async" in searches and "sync" in searches:
        sync = searches["sync"].ceiling
        found["async_over_sync_ceiling"] = (
            round(searches["async"].ceiling / sync, 2) if sync else None
        )
    if "async" in at_80 and "sync" in at_80:
        async_accept = at_80["async"]["accept_ms"].get("p99")
        sync_checkout = at_80["sync"]["accept_ms"].get("p99")
        if async_accept and sync_checkout:
            found["sync_checkout_p99_over_async_accept_p99"] = round(
                sync_checkout / async_accept, 1
            )
        found["async_accept_p99_ms"] = async_accept
        found["sync_checkout_p99_ms"] = sync_checkout
    return found
