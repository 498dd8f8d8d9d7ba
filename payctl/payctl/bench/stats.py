"""What one flow's run measured: its latencies as percentiles, its throughput, and a per-second
timeline for the plot. Everything is in milliseconds and seconds since the run's start."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from payctl.bench.cpu import CpuUsage
    from payctl.bench.openloop import Sent

PERCENTILES = {"p50": 50, "p95": 95, "p99": 99}


def percentiles(seconds: Iterable[float]) -> dict[str, float | int]:
    """p50/p95/p99/max in milliseconds, and how many values they summarise."""
    values = np.fromiter(seconds, dtype=float) * 1000
    if values.size == 0:
        return {"count": 0}
    summary: dict[str, float | int] = {
        name: round(float(np.percentile(values, q)), 1) for name, q in PERCENTILES.items()
    }
    summary["max"] = round(float(values.max()), 1)
    summary["count"] = int(values.size)
    return summary


@dataclass
class FlowResult:
    """One flow's run. `accepted` maps a payment id to when its request was due (the shopper's
    click) and when it was answered; `milestones` maps a milestone (ORDER_CONFIRMED, CAPTURED)
    to payment id -> the moment it was reached. Milestone latencies count from the click, so
    they include the accept latency and mean the same for both flows."""

    name: str
    started: float
    sent: Sequence[Sent]
    accepted: dict[str, tuple[float, float]]  # payment id -> (due, answered)
    milestones: dict[str, dict[str, float]]
    load_seconds: float
    drain_seconds: float | None  # from the last request's answer until every accepted one ended
    outage: tuple[float, float] | None = None  # seconds since start
    drain_after_outage_seconds: float | None = None
    ledger: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, Any] = field(default_factory=dict)  # process -> its top functions
    cpu: CpuUsage | None = None  # the stack's processes while the flow ran
    # Payments whose request got no answer, taken when asked again: finished, not counted.
    unanswered: tuple[str, ...] = ()

    @property
    def completed(self) -> int:
        return len(self.milestones.get("CAPTURED", {}))

    def summary(self) -> dict[str, Any]:
        errors = Counter(s.error or str(s.status) for s in self.sent if s.error is not None)
        captured = self.milestones.get("CAPTURED", {})
        return {
            "requests": len(self.sent),
            "accepted": len(self.accepted),
            "failed": sum(errors.values()),
            "errors": dict(errors.most_common()),
            "completed": self.completed,
            "accept_ms": percentiles(
                a - d for d, a in (self.accepted.values() if self.accepted else [])
            ),
            "all_answers_ms": percentiles(s.latency for s in self.sent if s.latency is not None),
            **{
                f"to_{name.lower()}_ms": percentiles(
                    at - self.accepted[pid][0]
                    for pid, at in reached.items()
                    if pid in self.accepted
                )
                for name, reached in self.milestones.items()
            },
            "throughput_per_s": {
                "offered": round(self._offered_rate(), 1),
                "accepted": round(len(self.accepted) / self.load_seconds, 1),
                "captured": round(self._captured_rate(captured), 1),
                "captured_steady_median": self._steady_median(captured),
            },
            "load_seconds": round(self.load_seconds, 2),
            "drain_seconds": _rounded(self.drain_seconds),
            "outage_seconds": list(self.outage) if self.outage else None,
            "drain_after_outage_seconds": _rounded(self.drain_after_outage_seconds),
            "ledger": self.ledger,
            # Per payment that reached CAPTURED: what the whole flow cost, divided by what it
            # delivered.
            "cpu_ms_per_captured_payment": (
                self.cpu.per_payment_ms(self.completed) if self.cpu is not None else {}
            ),
            "cpu_seconds": self._cpu_seconds(),
            "profile": self.profile,
        }

    def _cpu_seconds(self) -> dict[str, float]:
        if self.cpu is None:
            return {}
        return {
            "window": round(self.cpu.seconds, 2),
            "stack": round(self.cpu.total, 2),
            "machine": round(self.cpu.machine, 2),
        }

    def timeline(self) -> dict[str, list[Any]]:
        """Per second since the start: requests due, accepted, failed and captured, and the
        p50/p99 of accept and accept-to-captured latencies of the payments due that second."""
        seconds = int(self.load_seconds + (self.drain_seconds or 0)) + 2
        due = _per_second((s.due for s in self.sent), self.started, seconds)
        failed = _per_second(
            (s.due for s in self.sent if s.error is not None), self.started, seconds
        )
        accepted = _per_second((d for d, _ in self.accepted.values()), self.started, seconds)
        captured_at = self.milestones.get("CAPTURED", {})
        captured = _per_second(captured_at.values(), self.started, seconds)
        accept_p: dict[int, list[float]] = {}
        e2e_p: dict[int, list[float]] = {}
        for pid, (d, a) in self.accepted.items():
            second = int(d - self.started)
            accept_p.setdefault(second, []).append(a - d)
            if pid in captured_at:
                e2e_p.setdefault(second, []).append(captured_at[pid] - d)
        return {
            "second": list(range(seconds)),
            "due": due,
            "accepted": accepted,
            "failed": failed,
            "captured": captured,
            "accept_p50_ms": _per_second_percentile(accept_p, 50, seconds),
            "accept_p99_ms": _per_second_percentile(accept_p, 99, seconds),
            "captured_p50_ms": _per_second_percentile(e2e_p, 50, seconds),
            "captured_p99_ms": _per_second_percentile(e2e_p, 99, seconds),
        }

    def _offered_rate(self) -> float:
        if len(self.sent) < 2:
            return float(len(self.sent))
        dues = [s.due for s in self.sent]
        return (len(dues) - 1) / max(1e-9, max(dues) - min(dues))

    def _captured_rate(self, captured: dict[str, float]) -> float:
        if not captured:
            return 0.0
        return len(captured) / max(1e-9, max(captured.values()) - self.started)

    def _steady_median(self, captured: dict[str, float]) -> float:
        """The median of captures per second over the middle 60% of the load window: what the
        pipeline sustains once warm, before the tail of the run."""
        counts = _per_second(captured.values(), self.started, int(self.load_seconds) + 1)
        low, high = int(self.load_seconds * 0.2), max(int(self.load_seconds * 0.8), 1)
        window = counts[low:high] or counts
        return float(np.median(window)) if window else 0.0


def _per_second(moments: Iterable[float], start: float, seconds: int) -> list[float]:
    counts = [0.0] * seconds
    for at in moments:
        second = int(at - start)
        if 0 <= second < seconds:
            counts[second] += 1
    return counts


def _per_second_percentile(
    by_second: dict[int, list[float]], q: float, seconds: int
) -> list[float | None]:
    return [
        round(float(np.percentile(by_second[s], q)) * 1000, 1) if s in by_second else None
        for s in range(seconds)
    ]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
