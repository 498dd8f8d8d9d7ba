"""`payctl bench --profile`: py-spy samples every service process while the load runs, and the
bench reports where each one spends its time (the functions most often on top of the stack).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from payctl.stack import Stack

SAMPLES_PER_SECOND = 49  # not a multiple of common timer rates, so samples do not alias


class Profiler:
    def __init__(self, stack: Stack, out_dir: Path, duration: float) -> None:
        self._stack = stack
        self._out_dir = out_dir
        self._duration = duration
        self._running: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}

    def start(self) -> None:
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        self._out_dir.mkdir(parents=True, exist_ok=True)
        for name in self._stack.process_names:
            pid = self._stack.pid(name)
            if pid is None:
                continue
            out = self._out_dir / f"{name}.folded"
            command = [
                py_spy, "record", "--pid", str(pid), "--duration", str(int(self._duration)),
                "--rate", str(SAMPLES_PER_SECOND), "--format", "raw", "--subprocesses",
                "--nonblocking", "--output", str(out),
            ]  # fmt: skip
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            self._running[name] = (process, out)

    def finish(self, top: int = 12) -> dict[str, dict[str, list[tuple[str, float]]]]:
        """Per process, its `top` functions by own and by total share of the samples."""
        tops: dict[str, dict[str, list[tuple[str, float]]]] = {}
        for name, (process, out) in self._running.items():
            try:
                process.wait(timeout=self._duration + 30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if out.exists():
                tops[name] = top_functions(out.read_text(), top)
        return tops


def top_functions(folded: str, top: int) -> dict[str, list[tuple[str, float]]]:
    """From py-spy's folded stacks (`frame;frame;leaf count` per line, idle threads left out as
    py-spy does by default): the functions most often on top of the stack ("self") and most
    often anywhere on it ("total"), with their percentage of the samples."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in folded.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        n = int(count)
        samples += n
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(f, round(100 * n / max(samples, 1), 1)) for f, n in counter.most_common(top)]

    return {"self": share(own), "total": share(total)}
