"""How the simulated provider behaves around its rules: its latency and the failures it injects.
Operation routes consult one `Behaviour` before every operation; the admin API and the
environment set its `Switches`. The ledger reads, health and admin routes never consult it.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from psp_sim.settings import Settings

# timeout: perform and record the operation, then withhold the answer (the outcome is unknown).
# error_5xx: answer 503 without performing anything.
# error_5xx_after_commit: perform and record the operation, then answer 500 (outcome unknown).
FailureKind = Literal["timeout", "error_5xx", "error_5xx_after_commit"]


class Failure(BaseModel):
    """A failure to inject into operations: which kind, for how long, and how often."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: FailureKind
    count: int | None = Field(None, ge=1, description="inject it this many times, then stop")
    for_seconds: float | None = Field(
        None, gt=0, description="inject it for this many seconds from when it is set"
    )
    rate: float = Field(1.0, ge=0, le=1, description="the probability an operation gets it")
    hold_seconds: float = Field(
        30.0, gt=0, le=3600, description="timeout: how long the answer is withheld at most"
    )


class Switches(BaseModel):
    """Everything that can be switched. Omitted fields are off: no latency, no failure."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_ms: int = Field(0, ge=0)
    jitter_ms: int = Field(0, ge=0, description="latency varies uniformly by ± this much")
    failure: Failure | None = None
    seed: int | None = Field(None, description="seeds jitter and rate draws, for repeatable runs")


class BehaviourState(Switches):
    """The switches in force, and what is left of their failure."""

    failing: bool = Field(description="whether the failure still applies to new operations")
    failures_left: int | None = Field(description="what is left of `failure.count`")
    seconds_left: float | None = Field(description="what is left of `failure.for_seconds`")


class Behaviour:
    # Read and changed only on the server's event loop (every route that touches it is async),
    # so a failure count is never consumed twice and needs no lock.

    def __init__(self, start: Switches) -> None:
        self.start = start
        self.set(start)

    @classmethod
    def from_settings(cls, settings: Settings) -> Behaviour:
        return cls(settings.switches())

    def set(self, switches: Switches) -> None:
        """Replaces the switches; a failure's count and time window start again from now."""
        self.switches = switches
        failure = switches.failure
        self._random = random.Random(switches.seed)
        self._failures_left = failure.count if failure else None
        self._failing_until = (
            time.monotonic() + failure.for_seconds if failure and failure.for_seconds else None
        )

    def reset(self) -> None:
        self.set(self.start)

    def state(self) -> BehaviourState:
        seconds_left = None
        if self._failing_until is not None:
            seconds_left = max(0.0, self._failing_until - time.monotonic())
        return BehaviourState(
            **self.switches.model_dump(),
            failing=self._failing(),
            failures_left=self._failures_left,
            seconds_left=seconds_left,
        )

    async def before_operation(self) -> Failure | None:
        """Waits the simulated latency, then draws the failure this operation gets, if any."""
        # asyncio.sleep, not time.sleep: a slow provider must not stall its other callers.
        delay = self._latency_seconds()
        if delay > 0:
            await asyncio.sleep(delay)
        failure = self.switches.failure
        if failure is None or not self._failing() or self._random.random() >= failure.rate:
            return None
        if self._failures_left is not None:
            self._failures_left -= 1
        return failure

    def _latency_seconds(self) -> float:
        jitter = self.switches.jitter_ms
        return max(0.0, self.switches.latency_ms + self._random.uniform(-jitter, jitter)) / 1000

    def _failing(self) -> bool:
        if self.switches.failure is None or self._failures_left == 0:
            return False
        return self._failing_until is None or time.monotonic() < self._failing_until
