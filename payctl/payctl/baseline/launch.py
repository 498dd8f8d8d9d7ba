"""The baseline beside a running stack: its own database on the stack's PostgreSQL server, the
stack's psp-sim, a port of its own. Started like the stack's services (its log is
`logs/baseline.log`), and stopped by whoever started it: `with start_baseline(stack) as baseline:`,
or `start_baseline(stack)` and `stop()`."""

from __future__ import annotations

import signal
import sys
from typing import TYPE_CHECKING, Self

import psycopg

from payctl.databases import ensure_database
from payctl.embedded import free_port
from payctl.errors import StackError
from payctl.process import ServiceProcess, wait_healthy
from payctl.services import HOST

if TYPE_CHECKING:
    from types import TracebackType

    from payctl.stack import Stack

DATABASE = "baseline"


class Baseline:
    def __init__(
        self, process: ServiceProcess, url: str, database_url: str, stop_timeout: float
    ) -> None:
        self.process = process
        self.url = url
        self.database_url = database_url
        self._stop_timeout = stop_timeout

    def stop(self) -> None:
        """SIGTERM to its process group (the workers too), SIGKILL after the stack's stop
        timeout. Safe to call twice."""
        self.process.stop(signal.SIGTERM, self._stop_timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_baseline(stack: Stack, *, workers: int = 1, port: int | None = None) -> Baseline:
    """Starts the baseline with `workers` uvicorn workers on `port` (a free one when None) and
    returns once it answers 200 on `/healthz`."""
    try:
        # On the BFF's server: both designs are measured against the same PostgreSQL.
        database_url = ensure_database(stack.database_url("bff"), DATABASE)
    except psycopg.Error as e:
        raise StackError(f"cannot create the database {DATABASE}: {e}") from e
    port = port or free_port(HOST)
    url = f"http://{HOST}:{port}"
    env = {
        **stack.config.env,
        "PAYMENTS_ENV": stack.config.env.get("PAYMENTS_ENV", "development"),
        "BASELINE_DATABASE_URL": database_url,
        "BASELINE_HOST": HOST,
        "BASELINE_PORT": str(port),
        "BASELINE_WORKERS": str(workers),
        "PSP_URL": stack.psp_url,
        "SSO_SIGNING_KEY": stack.wiring.sso_signing_key,
        "PYTHONUNBUFFERED": "1",
    }
    process = ServiceProcess(
        "baseline",
        [sys.executable, "-m", "payctl.baseline"],
        env,
        stack.config.layout.log_file("baseline"),
        f"{url}/healthz",
    )
    process.spawn()
    try:
        wait_healthy([process], stack.config.start_timeout)
    except BaseException:
        process.stop(signal.SIGTERM, stack.config.stop_timeout)
        raise
    return Baseline(process, url, database_url, stack.config.stop_timeout)
