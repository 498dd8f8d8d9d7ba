"""The two flows the bench drives through the same simulated provider: this design (the BFF
accepts, the consumers finish the payment later) and the synchronous checkout it replaces (one
request authorizes, creates and confirms the order and captures before it answers)."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from tqdm import tqdm

from payctl.bench.cpu import measure_returning
from payctl.bench.ledger import audit_sync_ledger
from payctl.bench.openloop import CLIENT_OVERLOADED, Sent, drive
from payctl.bench.profile import Profiler
from payctl.bench.stats import FlowResult
from payctl.bench.watch import CAPTURED, ORDER_CONFIRMED, MilestoneWatcher
from payctl.chaos import audit_stack
from payctl.rest import wait_at_rest
from psp_sim import admin_client
from psp_sim.behaviour import Failure

if TYPE_CHECKING:
    from collections.abc import Callable, Collection
    from pathlib import Path

    from payctl.baseline.launch import Baseline
    from payctl.bench.cpu import CpuUsage
    from payctl.load import PlannedPayment
    from payctl.stack import Stack


@dataclass(frozen=True)
class Load:
    """What both flows are given: the same payments at the same rate, and the same provider."""

    plans: list[PlannedPayment]
    rate: float
    provider_latency_ms: int
    outage_seconds: float
    drain_timeout: float
    progress: bool
    profile_dir: Path | None = None  # py-spy every service process while the load runs

    @property
    def duration(self) -> float:
        return len(self.plans) / self.rate

    @property
    def outage_window(self) -> tuple[float, float] | None:
        """Seconds since the start: centred in the load."""
        if not self.outage_seconds:
            return None
        begin = max(0.0, (self.duration - self.outage_seconds) / 2)
        return begin, begin + self.outage_seconds


def run_async_flow(
    stack: Stack, load: Load, *, audit: bool = True, earlier: Collection[str] = ()
) -> FlowResult:
    """The load through the BFF, until every accepted payment ended; with `audit`, the ledger
    of every service is checked once the stack is at rest, for these payments and the `earlier`
    ones this stack took (every payment in it must be accounted for). The CPU counted is the
    stack's from the first request until the last payment ended."""
    watcher = MilestoneWatcher(stack.bootstrap)
    watcher.start()
    auth = {"Authorization": f"Bearer {stack.token}"}
    drained: float | None = None
    unanswered: dict[str, tuple[float, float]] = {}

    def load_and_drain() -> Driven:
        nonlocal drained, unanswered
        driven = _drive(stack, load, f"{stack.bff_url}/v1/payments", 202, auth, "async")
        unanswered = ask_again_unanswered(stack.bff_url, auth, load, driven.sent)
        drained = _wait_drained(_accepted(driven.sent, 202) | unanswered, watcher.done, load)
        return driven

    try:
        driven, cpu = measure_returning(stack, load_and_drain)
    finally:
        watcher.stop()
    accepted = _accepted(driven.sent, 202)
    ledger: dict[str, object] = {"unanswered_then_replayed": len(unanswered)}
    if audit:
        # The ledger is read once the stack is at rest: every payment settled in the BFF,
        # nothing left in an outbox or on the retry schedule.
        every = [*earlier, *accepted, *unanswered]
        wait_at_rest(stack, every, load.drain_timeout)
        report = audit_stack(stack, dict.fromkeys(every, "CAPTURED"))
        ledger |= {
            "exactly_once": report.passed,
            "payments_audited": report.payments,
            "violations": [str(v) for v in report.violations[:20]],
        }
    result = _result("async", driven, accepted, watcher.seen, load, drained, ledger, cpu)
    result.unanswered = tuple(unanswered)
    return result


def run_sync_flow(stack: Stack, baseline: Baseline, load: Load) -> FlowResult:
    """The load through the synchronous checkout; its answers are the captures. The CPU counted
    is the stack's and the baseline's while the load runs."""
    baseline_pid = baseline.process.pid
    driven, cpu = measure_returning(
        stack,
        lambda: _drive(stack, load, f"{baseline.url}/v1/checkout", 200, {}, "sync"),
        extra={"baseline": baseline_pid} if baseline_pid is not None else None,
    )
    accepted = _accepted(driven.sent, 200)
    # Everything happened inside the request: the answer is the capture, and the server says how
    # long before it the order was confirmed.
    milestones: dict[str, dict[str, float]] = {ORDER_CONFIRMED: {}, CAPTURED: {}}
    for s in driven.sent:
        if s.body is not None and s.answered is not None:
            pid = str(s.body["payment_id"])
            milestones[CAPTURED][pid] = s.answered
            waited = (float(s.body["captured_ms"]) - float(s.body["order_confirmed_ms"])) / 1000
            milestones[ORDER_CONFIRMED][pid] = s.answered - waited
    lines_of = {p.key: len(p.body["lines"]) for p in load.plans}
    ledger = audit_sync_ledger(stack.database_url("psp"), driven.sent, lines_of)
    return _result("sync", driven, accepted, milestones, load, driven.load_end, ledger, cpu)


@dataclass(frozen=True)
class Driven:
    started: float
    sent: list[Sent]
    load_end: float  # when the last answer came
    profile: dict[str, Any]


def _drive(
    stack: Stack, load: Load, url: str, ok_status: int, headers: dict[str, str], name: str
) -> Driven:
    """Sends the load, with the provider failing in the outage window."""
    admin_client.set_behaviour(stack.psp_url, latency_ms=load.provider_latency_ms)
    profiler = None
    if load.profile_dir is not None:
        profiler = Profiler(stack, load.profile_dir / name, load.duration)
        profiler.start()
    started = time.time()
    outage = _schedule_outage(stack.psp_url, load)
    bar = tqdm(total=len(load.plans), desc="requests", unit="req", disable=not load.progress)
    failed = 0

    def answered(s: Sent) -> None:
        nonlocal failed
        failed += s.error is not None
        bar.update()
        if bar.n % 200 == 0:
            bar.set_postfix(failed=failed, refresh=False)

    try:
        sent = asyncio.run(
            drive(
                url,
                load.plans,
                rate=load.rate,
                headers=headers,
                ok_status=ok_status,
                on_answer=answered,
            )
        )
    finally:
        bar.close()
        if outage is not None:
            outage.cancel()
    load_end = time.time()
    profile = profiler.finish() if profiler is not None else {}
    return Driven(started, sent, load_end, profile)


def _schedule_outage(psp_url: str, load: Load) -> threading.Timer | None:
    window = load.outage_window
    if window is None:
        return None
    failure = Failure(kind="error_5xx", for_seconds=load.outage_seconds)
    timer = threading.Timer(
        window[0],
        admin_client.set_behaviour,
        args=(psp_url,),
        kwargs={"latency_ms": load.provider_latency_ms, "failure": failure},
    )
    timer.daemon = True
    timer.start()
    return timer


def ask_again_unanswered(
    bff_url: str, auth: dict[str, str], load: Load, sent: list[Sent]
) -> dict[str, tuple[float, float]]:
    """Sends each request that got no answer once more with its Idempotency-Key, as a client
    must: the BFF replays the payment it took, or takes it now. Either way it is a payment to
    finish and audit; it does not count as accepted in the figures."""
    plans = {p.key: p for p in load.plans}
    found: dict[str, tuple[float, float]] = {}
    with httpx.Client(base_url=bff_url, headers=auth, timeout=30, trust_env=False) as client:
        for s in sent:
            if s.status is not None or s.error == CLIENT_OVERLOADED:
                continue
            plan = plans[s.key]
            response = client.post(
                "/v1/payments", json=plan.body, headers={"Idempotency-Key": plan.key}
            )
            if response.status_code == 202:
                found[str(response.json()["payment_id"])] = (s.due, time.time())
    return found


def _accepted(sent: list[Sent], ok_status: int) -> dict[str, tuple[float, float]]:
    return {
        str(s.body["payment_id"]): (s.due, s.answered)
        for s in sent
        if s.status == ok_status and s.body is not None and s.answered is not None
    }


def _wait_drained(
    accepted: dict[str, tuple[float, float]], done: Callable[[str], bool], load: Load
) -> float | None:
    """Waits until every accepted payment was captured or ended otherwise; the moment it was,
    or None if the drain timeout passed first."""
    waiting = set(accepted)
    deadline = time.monotonic() + load.drain_timeout
    bar = tqdm(total=len(waiting), desc="draining", unit="pay", disable=not load.progress)
    try:
        while waiting and time.monotonic() < deadline:
            finished = {pid for pid in waiting if done(pid)}
            waiting -= finished
            bar.update(len(finished))
            if waiting:
                time.sleep(0.1)  # polling our own watcher's dict, not the stack
    finally:
        bar.close()
    return None if waiting else time.time()


def _result(
    name: str,
    driven: Driven,
    accepted: dict[str, tuple[float, float]],
    milestones: dict[str, dict[str, float]],
    load: Load,
    drained: float | None,
    ledger: dict[str, object],
    cpu: CpuUsage,
) -> FlowResult:
    window = load.outage_window
    started, load_end = driven.started, driven.load_end
    return FlowResult(
        name=name,
        started=started,
        sent=driven.sent,
        accepted=accepted,
        milestones={
            "ORDER_CONFIRMED": {
                p: t for p, t in milestones[ORDER_CONFIRMED].items() if p in accepted
            },
            "CAPTURED": {p: t for p, t in milestones[CAPTURED].items() if p in accepted},
        },
        load_seconds=load_end - started,
        drain_seconds=None if drained is None else max(0.0, drained - load_end),
        outage=window,
        drain_after_outage_seconds=(
            None if window is None or drained is None else max(0.0, drained - started - window[1])
        ),
        ledger=dict(ledger),
        profile=driven.profile,
        cpu=cpu,
    )
