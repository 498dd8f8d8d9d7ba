"""`python -m bff` with several worker processes, as payctl runs it: they serve one port, a scrape
of `/metrics` counts the requests of all of them whichever one answers it, and none outlives
the supervisor, even one that is SIGKILLed."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from typing import TYPE_CHECKING

import httpx
import psutil
import pytest
from bff_processes import spawn
from bff_support import SECRET, bearer, new_key, new_payment

from payctl.embedded import free_port, wait_for

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.integration

WORKERS = 2


class Server:
    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log

    def children(self) -> list[psutil.Process]:
        """The workers, and multiprocessing's resource tracker."""
        return psutil.Process(self.process.pid).children(recursive=True)

    def workers(self) -> list[psutil.Process]:
        return [p for p in self.children() if "resource_tracker" not in " ".join(p.cmdline())]


@contextlib.contextmanager
def serving(database_url: str, log: Path, **settings: str) -> Iterator[Server]:
    port = free_port()
    env = (
        settings
        | os.environ
        | {
            "BFF_DATABASE_URL": database_url,
            "BFF_PORT": str(port),
            "BFF_WORKERS": str(WORKERS),
            "PROMETHEUS_MULTIPROC_DIR": str(log.parent / "metrics"),
            "BFF_AUTH_SECRET": SECRET,
            "PAYMENTS_ENV": "test",
            "LOG_FORMAT": "json",
        }
    )
    process = spawn("bff", env, log, own_session=True)
    server = Server(process, port, log)
    try:
        wait_for(
            lambda: len(server.workers()) == WORKERS and healthy(server.url),
            90,
            f"the BFF serving with {WORKERS} workers (log: {log})",
        )
        yield server
    finally:
        # A failed test must leave nothing behind: the whole group, whatever is still in it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def healthy(url: str) -> bool:
    return httpx.get(f"{url}/healthz", timeout=5).status_code == 200


def gone(process: psutil.Process) -> bool:
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def accepted_payments(metrics: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("http_requests_total{")
        and 'handler="/v1/payments"' in line
        and 'method="POST"' in line
        and 'status="2xx"' in line
    )


def test_every_scrape_counts_the_requests_every_worker_served(
    bff_database: str, tmp_path: Path
) -> None:
    with serving(bff_database, tmp_path / "bff.log") as server:
        # A connection each: the kernel hands new connections to whichever worker accepts.
        for _ in range(12):
            response = httpx.post(
                f"{server.url}/v1/payments",
                json=new_payment(),
                headers=new_key() | bearer("shop"),
                timeout=10,
            )
            assert response.status_code == 202, response.text
        scrapes = [httpx.get(f"{server.url}/metrics", timeout=10).text for _ in range(6)]

    assert [accepted_payments(scrape) for scrape in scrapes] == [12.0] * 6


def test_sigterm_stops_the_supervisor_and_every_worker(bff_database: str, tmp_path: Path) -> None:
    with serving(bff_database, tmp_path / "bff.log") as server:
        children = server.children()
        server.process.send_signal(signal.SIGTERM)

        assert server.process.wait(30) == 0
        wait_for(lambda: all(gone(p) for p in children), 30, "every worker gone")


def test_the_workers_end_with_a_sigkilled_supervisor(bff_database: str, tmp_path: Path) -> None:
    with serving(bff_database, tmp_path / "bff.log") as server:
        children = server.children()
        # The supervisor alone, as the OOM killer would: no chance to stop its workers.
        server.process.kill()
        server.process.wait()

        wait_for(lambda: all(gone(p) for p in children), 30, "every worker gone")
        assert port_free(server.port)


@pytest.mark.parametrize(("asked", "lines"), [({}, 0), ({"BFF_ACCESS_LOG": "true"}, 3)])
def test_the_workers_log_a_line_per_request_only_when_asked(
    bff_database: str, tmp_path: Path, asked: dict[str, str], lines: int
) -> None:
    log = tmp_path / "bff.log"
    with serving(bff_database, log, **asked) as server:
        for _ in range(3):
            response = httpx.post(
                f"{server.url}/v1/payments",
                json=new_payment(),
                headers=new_key() | bearer("shop"),
                timeout=10,
            )
            assert response.status_code == 202, response.text
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(30)

    written = log.read_text().splitlines()
    assert sum('"payment_accepted"' in line for line in written) == 3
    access = [line for line in written if '"uvicorn.access"' in line]
    assert sum("POST /v1/payments" in line for line in access) == lines
