"""One service process of the stack: started in a process group of its own with its output
appended to its log file, probed on `/healthz`, stopped by signalling its whole group, and ended
by Linux if payctl itself is killed."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

import httpx

from payctl.embedded import wait_for
from payctl.errors import StackError
from paykit.server_workers import PR_SET_PDEATHSIG

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path


def end_with_this_process() -> Callable[[], None] | None:
    """A `preexec_fn` that has Linux SIGTERM the child when the thread that started it ends, so
    a SIGKILLed payctl (or test run) leaves nothing of the stack running.

    None off Linux, and off the main thread: a child started from another thread (the chaos
    harness restarts services from threads of its own) would die when that thread ends."""
    if (
        not sys.platform.startswith("linux")
        or threading.current_thread() != threading.main_thread()
    ):
        return None
    parent = os.getpid()

    def arrange() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request above was made
            os._exit(1)

    return arrange


class ServiceProcess:
    def __init__(
        self,
        name: str,
        argv: list[str],
        env: Mapping[str, str],
        log_path: Path,
        health_url: str,
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = dict(env)
        self.log_path = log_path
        self.health_url = health_url
        self.started_at = 0.0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def returncode(self) -> int | None:
        return self._process.poll() if self._process else None

    def spawn(self) -> None:
        assert not self.running(), f"{self.name} is already running"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Own group: a Ctrl-C in the terminal reaches payctl only, which stops the
                # services in order, and a stop reaches whatever the service started itself.
                start_new_session=True,
                preexec_fn=end_with_this_process(),
            )
        self.started_at = time.monotonic()

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def probe(self) -> str | None:
        """None when `/healthz` answers 200, otherwise what it answered instead."""
        try:
            # trust_env=False: a proxy from the environment must not stand between us and
            # 127.0.0.1.
            response = httpx.get(self.health_url, timeout=2, trust_env=False)
        except httpx.HTTPError as e:
            return f"{type(e).__name__}: {e}"
        if response.status_code == 200:
            return None
        return f"{response.status_code} {response.text[:300]}"

    def send(self, sig: signal.Signals) -> None:
        if not self.running():
            return
        assert self._process is not None
        try:
            os.killpg(self._process.pid, sig)
        except ProcessLookupError:  # it exited between the check and the signal
            pass

    def wait_stopped(self, timeout: float) -> None:
        """Waits for the process to exit, SIGKILLs its group after `timeout`."""
        if self._process is None or self._process.returncode is not None:
            return
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        # Whatever is left in the group goes too, the leader included if it did not exit: nothing
        # outlives the stack. Only right after the leader exits, never later: an id freed long
        # ago may belong to another process by now.
        try:
            os.killpg(self._process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._process.wait()

    def stop(self, sig: signal.Signals, timeout: float) -> None:
        self.send(sig)
        self.wait_stopped(timeout)


def tail(log_file: Path, lines: int = 20) -> str:
    """The last lines of a log, indented, for an error message."""
    try:
        with log_file.open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 16384))
            text = f.read().decode(errors="replace")
    except FileNotFoundError:
        return f"(nothing in {log_file})"
    return f"last lines of {log_file}:\n" + "\n".join(
        "  " + line for line in text.splitlines()[-lines:]
    )


def wait_healthy(processes: Sequence[ServiceProcess], timeout: float) -> None:
    """Returns once each process answers 200 on `/healthz`; raises `StackError` naming the one
    that exited meanwhile, or the ones still not healthy at the deadline, with their logs."""
    pending = {p.name: p for p in processes}
    last_answer: dict[str, str] = {}
    dead: list[ServiceProcess] = []

    def all_healthy() -> bool:
        for name, process in sorted(pending.items()):
            if not process.running():
                dead.append(process)
                return True  # stop waiting: the error below says who died
            answer = process.probe()
            if answer is None:
                del pending[name]
            else:
                last_answer[name] = answer
        return not pending

    try:
        wait_for(all_healthy, timeout, "services")
    except TimeoutError:
        raise StackError(
            "\n\n".join(
                f"{name} is not healthy after {timeout:.0f}s "
                f"({process.health_url}: {last_answer.get(name, 'no answer')})"
                f"\n{tail(process.log_path)}"
                for name, process in sorted(pending.items())
            )
        ) from None
    if dead:
        [process] = dead
        raise StackError(
            f"{process.name} exited with code {process.returncode} while starting"
            f"\n{tail(process.log_path)}"
        )
