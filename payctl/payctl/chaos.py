"""Chaos under load: payments go in through the BFF while the stack's processes are SIGKILLed at
random moments and started again after a short random delay; then every payment must settle
before a deadline and the audit must find nothing. `payctl soak` and the failure tests run it.

A SIGKILL gives a process no chance to finish anything: a handler between its database commit
and its offset commit, a relay between publishing and stamping its rows, a request between the
commit and the answer. Each consumer's outbox relay runs inside its process, so killing the
process kills its relay too; the BFF's outbox is relayed by the bff-projector process, not by
the API.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from payctl.audit import AuditReport, Violation, audit
from payctl.load import LoadGenerator, LoadResult, plan_payments
from payctl.rest import wait_at_rest
from payctl.services import DATABASE_NAMES
from payment_events.codec import Codec
from payment_events.registry import registry_for

if TYPE_CHECKING:
    from collections.abc import Sequence

    from payctl.stack import Stack

log = structlog.get_logger()

# Every process on the payment path; psp-sim stands for the outside world and is not killed.
VICTIMS = ("billing-consumer", "order-consumer", "capture-consumer", "bff-projector", "bff")
# How long a killed process stays down before it is started again.
DOWN_SECONDS = (0.1, 1.5)


@dataclass(frozen=True)
class Kill:
    victim: str
    at: float  # seconds after the chaos began
    down_seconds: float
    back_after: float  # seconds from the kill until it was healthy again


class ChaosMonkey:
    """Kills each victim its share of `kills` times, at random moments spread over `window`
    seconds, and starts it again after a random `down_seconds`. Victims are handled by one
    thread each, so several can be down at once; one victim is never killed while it is still
    starting."""

    def __init__(
        self,
        stack: Stack,
        rng: random.Random,
        *,
        kills: int,
        window: float,
        victims: Sequence[str] = VICTIMS,
        down_seconds: tuple[float, float] = DOWN_SECONDS,
    ) -> None:
        self._stack = stack
        share = [kills // len(victims)] * len(victims)
        for n in rng.sample(range(len(victims)), kills % len(victims)):
            share[n] += 1
        # Per victim: (moment, down seconds), drawn now so a seed replays the same chaos.
        self._plan = {
            victim: sorted(
                (rng.uniform(0, window), rng.uniform(*down_seconds)) for _ in range(count)
            )
            for victim, count in zip(victims, share, strict=True)
        }
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._errors: list[BaseException] = []
        self._began = 0.0
        self.kills: list[Kill] = []

    def start(self) -> None:
        self._began = time.monotonic()
        self._threads = [
            threading.Thread(target=self._haunt, args=(victim, moments), name=f"chaos-{victim}")
            for victim, moments in self._plan.items()
        ]
        for thread in self._threads:
            thread.start()

    def join(self) -> list[Kill]:
        """Waits for every planned kill and restart; raises what went wrong in a victim's
        thread (a process that did not come back healthy)."""
        for thread in self._threads:
            thread.join()
        if self._errors:
            raise self._errors[0]
        return sorted(self.kills, key=lambda k: k.at)

    def stop(self) -> None:
        """No further kills; a victim that is down is still started again."""
        self._stop.set()

    def _haunt(self, victim: str, moments: list[tuple[float, float]]) -> None:
        try:
            for at, down in moments:
                if self._stop.wait(max(0.0, self._began + at - time.monotonic())):
                    return
                killed = time.monotonic()
                self._stack.kill_service(victim)
                log.info("chaos_killed", victim=victim)
                time.sleep(down)  # the chaos itself, not a synchronisation
                self._stack.start_service(victim)
                self.kills.append(
                    Kill(victim, killed - self._began, down, time.monotonic() - killed)
                )
        except BaseException as e:  # reported by join(), in the caller's thread
            self._errors.append(e)


@dataclass
class ChaosRun:
    load: LoadResult
    kills: list[Kill]
    submit_seconds: float
    drain_seconds: float  # from the last 202 until the stack came to rest (or the deadline)
    report: AuditReport
    violations: list[Violation] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.violations

    def summary(self, limit: int = 20) -> str:
        kills = dict(Counter(kill.victim for kill in self.kills))
        return "\n".join(
            [
                f"payments   {len(self.load.accepted)} accepted "
                f"({self.load.retried} retried requests, {len(self.load.failed)} failed)",
                f"kills      {len(self.kills)} {kills}",
                f"submitted  in {self.submit_seconds:.1f}s",
                f"drained    in {self.drain_seconds:.1f}s",
                f"audit      {self.report.summary(0)}",
                f"violations {len(self.violations)}",
                *(f"  {v}" for v in self.violations[:limit]),
            ]
        )


def run_chaos(
    stack: Stack,
    *,
    payments: int,
    kills: int,
    seed: int,
    rate: float,
    victims: Sequence[str] = VICTIMS,
    concurrency: int = 8,
    drain_timeout: float = 120.0,
) -> ChaosRun:
    """Sends `payments` at `rate` per second while `kills` SIGKILLs land on `victims` over the
    same time, waits up to `drain_timeout` for every payment to settle and the stack to come to
    rest, then audits (whether it came to rest or not: the audit names what is stuck)."""
    rng = random.Random(seed)
    plans = plan_payments(payments, rng)
    load = LoadGenerator(stack.bff_url, stack.token, plans, concurrency=concurrency, rate=rate)
    monkey = ChaosMonkey(stack, rng, kills=kills, window=payments / rate, victims=victims)
    began = time.monotonic()
    load.start()
    monkey.start()
    try:
        result = load.wait()
    except BaseException:
        monkey.stop()
        raise
    finally:
        # Every planned kill happens, some perhaps while the last payments are still on their
        # way; each victim is healthy again when this returns.
        done = monkey.join()
    submitted = time.monotonic()
    drain = drain_timeout
    stuck: list[Violation] = []
    try:
        wait_at_rest(stack, [a.payment_id for a in result.accepted], drain_timeout)
        drain = time.monotonic() - submitted
    except TimeoutError as e:
        stuck.append(Violation("rest", None, str(e)))
    report = audit_stack(stack, result.expected)
    run = ChaosRun(result, done, submitted - began, drain, report, list(report.violations))
    run.violations += [Violation("load", None, failure) for failure in result.failed]
    run.violations += stuck
    return run


def audit_stack(stack: Stack, expected: dict[str, str] | None = None) -> AuditReport:
    codec = Codec(registry_for(stack.config.env.get("SCHEMA_REGISTRY_URL")))
    urls = {db: stack.database_url(db) for db in DATABASE_NAMES}
    return audit(stack.bootstrap, urls, codec, expected)
