"""CPU time of every process of a running stack (each service with the workers it started, the
broker, PostgreSQL with its backends), from the kernel's counters: steadier than throughput on a
shared machine, and it says where the time goes."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import psutil

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from payctl.stack import Stack

T = TypeVar("T")

# What the window cost outside the stack's processes: the bench's own client, and the machine.
LOAD_GENERATOR = "load generator"


@dataclass(frozen=True)
class CpuUsage:
    seconds: float  # the wall-clock window
    by_process: dict[str, float]  # CPU seconds spent in it, per stack process
    load_generator: float = 0.0  # CPU seconds of this process (the client), not in by_process
    machine: float = 0.0  # CPU seconds of every process on the machine, from /proc/stat

    @property
    def total(self) -> float:
        return sum(self.by_process.values())

    def share_of_a_core(self, name: str | None = None) -> float:
        """Percent of one core, of one process or (None) of the whole stack."""
        used = self.total if name is None else self.by_process[name]
        return 100 * used / self.seconds

    def table(self) -> str:
        rows = sorted(self.by_process.items(), key=lambda row: -row[1])
        lines = [f"{name:<22} {100 * used / self.seconds:6.2f} %" for name, used in rows]
        lines.append(f"{'whole stack':<22} {self.share_of_a_core():6.2f} % of one core")
        return "\n".join(lines)

    def per_payment_ms(self, payments: int) -> dict[str, float]:
        """Milliseconds of CPU per payment: each stack process, the whole stack, the load
        generator and the whole machine (everything that ran, the client included)."""
        if payments <= 0:
            return {}
        ms = {name: round(1000 * used / payments, 2) for name, used in self.by_process.items()}
        ms = dict(sorted(ms.items(), key=lambda row: -row[1]))
        ms["stack"] = round(1000 * self.total / payments, 2)
        ms[LOAD_GENERATOR] = round(1000 * self.load_generator / payments, 2)
        ms["machine"] = round(1000 * self.machine / payments, 2)
        return ms


def stack_processes(
    stack: Stack, extra: Mapping[str, int] | None = None
) -> dict[str, list[psutil.Process]]:
    """Each process of the stack (and of `extra`: name -> pid) with its descendants, by the name
    payctl gives it; the root first."""
    roots: dict[str, int | None] = {name: stack.pid(name) for name in stack.process_names}
    roots["kafka"] = stack.broker_pid
    roots["postgres"] = stack.postgres_pid
    roots.update(extra or {})
    found: dict[str, list[psutil.Process]] = {}
    for name, pid in roots.items():
        if pid is None:
            continue
        try:
            root = psutil.Process(pid)
            found[name] = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
    return found


# PostgreSQL titles a backend "postgres: USER DATABASE HOST STATE" and an autovacuum worker
# "postgres: autovacuum worker DATABASE": its CPU is that database's, i.e. its service's share.
_BACKEND = re.compile(r"postgres: (?:autovacuum worker (\S+)|\S+ (\S+) (?:\[local\]|\S+\(\d+\)))")


@dataclass(frozen=True)
class _Sample:
    by_pid: dict[str, dict[int, float]]  # name -> pid -> CPU seconds of that process
    reaped: dict[str, float]  # name -> CPU seconds of the root's children it waited for
    labels: dict[int, str]  # pid -> the name its CPU is reported under, when not its root's


def _sample(stack: Stack, extra: Mapping[str, int] | None) -> _Sample:
    by_pid: dict[str, dict[int, float]] = {}
    reaped: dict[str, float] = {}
    labels: dict[int, str] = {}
    for name, processes in stack_processes(stack, extra).items():
        for n, process in enumerate(processes):
            try:
                times = process.cpu_times()
                title = " ".join(process.cmdline()) if name == "postgres" and n else ""
            except psutil.Error:
                continue
            by_pid.setdefault(name, {})[process.pid] = times.user + times.system
            if n == 0:
                reaped[name] = times.children_user + times.children_system
            if database := database_of(title):
                labels[process.pid] = f"postgres {database}"
    return _Sample(by_pid, reaped, labels)


def database_of(title: str) -> str | None:
    """The database a PostgreSQL process works for, from its process title; None for the
    server's own processes."""
    backend = _BACKEND.match(title)
    return (backend.group(1) or backend.group(2)) if backend else None


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def _machine_cpu() -> float:
    times = psutil.cpu_times()
    return float(sum(times)) - times.idle - getattr(times, "iowait", 0.0)


def measure(
    stack: Stack, during: Callable[[], object], extra: Mapping[str, int] | None = None
) -> CpuUsage:
    """The CPU each stack process (and each of `extra`, name -> pid) uses while `during()` runs.
    A process that starts meanwhile (a new database connection) counts from its start; one that
    ends meanwhile counts through the root that waited for it (PostgreSQL's backends, uvicorn's
    workers), less what it had used before the window. PostgreSQL's backends count under
    "postgres DATABASE" (a service's share); the server's own processes, and backends that
    ended, under "postgres"."""
    return measure_returning(stack, during, extra)[1]


def measure_returning(
    stack: Stack, during: Callable[[], T], extra: Mapping[str, int] | None = None
) -> tuple[T, CpuUsage]:
    """`measure`, and what `during()` returned."""
    before, own, machine = _sample(stack, extra), _own_cpu(), _machine_cpu()
    started = time.monotonic()
    result = during()
    after = _sample(stack, extra)
    elapsed = time.monotonic() - started
    own, machine = _own_cpu() - own, _machine_cpu() - machine
    used: dict[str, float] = {}
    for name, pids in after.by_pid.items():
        earlier = before.by_pid.get(name, {})
        used.setdefault(name, 0.0)
        for pid, cpu in pids.items():
            label = after.labels.get(pid, name)
            used[label] = used.get(label, 0.0) + cpu - earlier.get(pid, 0.0)
        gone = sum(cpu for pid, cpu in earlier.items() if pid not in pids)
        reaped = after.reaped.get(name, 0.0) - before.reaped.get(name, 0.0)
        used[name] += max(0.0, reaped - gone)
    return result, CpuUsage(elapsed, used, load_generator=own, machine=machine)
