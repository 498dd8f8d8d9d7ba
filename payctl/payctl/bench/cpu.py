"""CPU time of every process of a running stack (each service with the workers it started, the
broker, PostgreSQL with its backends), from the kernel's counters: steadier than throughput on a
shared machine, and it says where the time goes."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    from collections.abc import Callable

    from payctl.stack import Stack


@dataclass(frozen=True)
class CpuUsage:
    seconds: float  # the wall-clock window
    by_process: dict[str, float]  # CPU seconds spent in it, per stack process

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


def stack_processes(stack: Stack) -> dict[str, list[psutil.Process]]:
    """Each process of the stack with its descendants, by the name payctl gives it."""
    roots = {name: stack.pid(name) for name in stack.process_names}
    roots["kafka"] = stack.broker_pid
    roots["postgres"] = stack.postgres_pid
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


def _cpu_by_pid(stack: Stack) -> dict[str, dict[int, float]]:
    taken: dict[str, dict[int, float]] = {}
    for name, processes in stack_processes(stack).items():
        for process in processes:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            taken.setdefault(name, {})[process.pid] = times.user + times.system
    return taken


def measure(stack: Stack, during: Callable[[], object]) -> CpuUsage:
    """The CPU each stack process uses while `during()` runs. A process that starts meanwhile
    (a new database connection) counts from its start; one that ends meanwhile is left out."""
    before = _cpu_by_pid(stack)
    started = time.monotonic()
    during()
    after = _cpu_by_pid(stack)
    elapsed = time.monotonic() - started
    used = {
        name: sum(cpu - before.get(name, {}).get(pid, 0.0) for pid, cpu in pids.items())
        for name, pids in after.items()
    }
    return CpuUsage(elapsed, used)
