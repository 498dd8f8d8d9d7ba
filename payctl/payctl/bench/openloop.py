"""The open-loop driver: request n is due at start + n/rate whatever became of the earlier ones,
and its latency counts from when it was due, not from when it was sent. A slow server therefore
shows as latency and a backlog of requests in flight, never as a politely lower rate
(coordinated omission).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from payctl.load import PlannedPayment

# A request that has no answer after this long counts as failed (no answer).
REQUEST_TIMEOUT_SECONDS = 30.0
# Beyond this many requests in flight the client itself would be the bottleneck: further due
# requests are not sent and count as failed ("client_overloaded"), so the report says so.
MAX_IN_FLIGHT = 4000
CLIENT_OVERLOADED = "client_overloaded"


@dataclass
class Sent:
    """One request: when it was due, when its answer came (wall clock seconds) and what it was."""

    n: int
    key: str
    due: float
    answered: float | None = None
    status: int | None = None  # None: no HTTP answer
    error: str | None = None  # the error code of a refusal, or why there was no answer
    body: dict[str, Any] | None = None  # the JSON of a successful answer

    @property
    def latency(self) -> float | None:
        return None if self.answered is None else self.answered - self.due


async def drive(
    url: str,
    plans: Sequence[PlannedPayment],
    *,
    rate: float,
    headers: dict[str, str],
    ok_status: int,
    on_answer: Callable[[Sent], None],
) -> list[Sent]:
    """POSTs `plans` to `url` at `rate` per second; `on_answer` sees each request once done."""
    sent = [Sent(n, plan.key, 0.0) for n, plan in enumerate(plans)]
    in_flight: set[asyncio.Task[None]] = set()
    connector = aiohttp.TCPConnector(limit=MAX_IN_FLIGHT, force_close=False)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, headers=headers
    ) as session:
        loop = asyncio.get_running_loop()
        # Wall clock for the record (the events' timestamps are wall clock), monotonic to pace.
        start_wall, start = time.time(), loop.time()
        for n, plan in enumerate(plans):
            delay = start + n / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            record = sent[n]
            record.due = start_wall + n / rate
            if len(in_flight) >= MAX_IN_FLIGHT:
                _finish(record, None, CLIENT_OVERLOADED, None)
                on_answer(record)
                continue
            task = asyncio.create_task(_post(session, url, plan, record, ok_status, on_answer))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if in_flight:
            await asyncio.wait(in_flight)
    return sent


async def _post(
    session: aiohttp.ClientSession,
    url: str,
    plan: PlannedPayment,
    record: Sent,
    ok_status: int,
    on_answer: Callable[[Sent], None],
) -> None:
    try:
        async with session.post(
            url, json=plan.body, headers={"Idempotency-Key": plan.key}
        ) as response:
            body = await response.json(content_type=None)
            error = None if response.status == ok_status else _error_code(body)
            _finish(record, response.status, error, body if error is None else None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as e:
        _finish(record, None, type(e).__name__, None)
    on_answer(record)


def _finish(record: Sent, status: int | None, error: str | None, body: Any) -> None:
    record.answered = time.time()
    record.status = status
    record.error = error
    record.body = body if isinstance(body, dict) else None


def _error_code(body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("code") or body.get("detail") or "error")
    return "unreadable_answer"
