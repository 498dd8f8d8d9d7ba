"""The thread that works the retry schedule: it tries due messages one at a time, in due order,
and sleeps until the next one is due, or until its own consumer parks a message. Several
instances share one schedule safely (row locks); one instance's worker sees what another parked
within `sweep_seconds`, if that one's own worker has not taken it first.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import structlog

from paykit import retries
from paykit.consumer import IN_PLACE_BACKOFF_CAP, backoff
from paykit.dispatch import is_infrastructure
from paykit.metrics import RETRY_SCHEDULE

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from paykit.dispatch import Dispatcher

log = structlog.get_logger()

# A waiting worker looks at its stop event this often; nothing else happens when it wakes.
STOP_CHECK_SECONDS = 1.0


class RetryWorker:
    def __init__(
        self,
        dispatcher: Dispatcher[Any],
        session_factory: sessionmaker[Session],
        stop: threading.Event,
        sweep_seconds: float = 30.0,
    ) -> None:
        self._dispatcher = dispatcher
        self._session_factory = session_factory
        self._stop = stop
        self._sweep = sweep_seconds
        self._parked = threading.Event()
        dispatcher.on_parked = self._parked.set
        self.last_cycle = 0.0

    def run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            self.last_cycle = time.monotonic()
            try:
                while not self._stop.is_set() and self._dispatcher.retry_due():
                    self.last_cycle = time.monotonic()
                wait = self._until_next_due()
                failures = 0
            except Exception as e:
                if not is_infrastructure(e):
                    raise
                failures += 1
                log.warning("retry_worker_retry", attempt=failures, error=repr(e)[:500])
                wait = backoff(failures, cap=IN_PLACE_BACKOFF_CAP)
            finally:
                structlog.contextvars.unbind_contextvars(
                    "topic", "partition", "offset", "event_id", "payment_id", "correlation_id"
                )
            self._wait(wait)

    def _wait(self, seconds: float) -> None:
        """`seconds`, or until the consumer parks a message or the service stops."""
        until = time.monotonic() + seconds
        while not self._stop.is_set():
            self.last_cycle = time.monotonic()
            left = until - self.last_cycle
            if left <= 0 or self._parked.wait(min(left, STOP_CHECK_SECONDS)):
                break
        self._parked.clear()

    def is_alive(self, within: float = 60.0) -> bool:
        return time.monotonic() - self.last_cycle < within

    def _until_next_due(self) -> float:
        with self._session_factory() as session:
            parked, due = retries.outlook(session)
        RETRY_SCHEDULE.set(parked)
        return self._sweep if due is None else min(self._sweep, max(due, 0.01))
