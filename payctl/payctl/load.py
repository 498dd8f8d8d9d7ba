"""The load: payments of every kind driven through the BFF the way a client must drive them.

A client that gets no answer, or a 5xx, does not know whether its payment was taken, so it sends
the same request with the same Idempotency-Key again until it gets its 202: the BFF answers a
repeat with the first answer, never with a second payment. Every answer is counted with the
moment it came, so a test can ask what the BFF answered during an outage.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import httpx


class Kind(StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"  # the provider declines the card
    REFUSED = "refused"  # the order is refused; the authorization is voided


# The BFF status each kind ends in.
OUTCOME: dict[Kind, str] = {
    Kind.APPROVED: "CAPTURED",
    Kind.DECLINED: "DECLINED",
    Kind.REFUSED: "FAILED",
}
MIX: dict[Kind, float] = {Kind.APPROVED: 0.7, Kind.DECLINED: 0.15, Kind.REFUSED: 0.15}
# psp-sim's test payment methods that decline (psp_sim.rules.TEST_PAYMENT_METHODS).
DECLINING_METHODS = ("pm_card_declined", "pm_card_insufficient_funds")
# order-consumer refuses this customer's orders (ORDERS_BLOCKED_CUSTOMERS, by default).
BLOCKED_CUSTOMER = "cus_blocked"
MAX_LINES = 5
# A retry waits at most this long, whatever Retry-After says: the load must keep pressing.
MAX_RETRY_WAIT = 2.0


@dataclass(frozen=True)
class PlannedPayment:
    key: str  # the Idempotency-Key of every attempt of this payment
    kind: Kind
    body: dict[str, Any]


def plan_payments(count: int, rng: random.Random) -> list[PlannedPayment]:
    """`count` payments in the MIX, each with 1 to MAX_LINES seller lines; the same `rng` seed
    gives the same kinds and amounts."""
    run = uuid.UUID(int=rng.getrandbits(128)).hex[:8]
    kinds = rng.choices(list(MIX), weights=list(MIX.values()), k=count)
    return [planned_payment(f"soak-{run}-{n}", kind, rng) for n, kind in enumerate(kinds)]


def planned_payment(key: str, kind: Kind, rng: random.Random) -> PlannedPayment:
    """One payment of `kind` with 1 to MAX_LINES seller lines drawn from `rng`."""
    method = rng.choice(DECLINING_METHODS) if kind is Kind.DECLINED else "pm_card_visa"
    customer = BLOCKED_CUSTOMER if kind is Kind.REFUSED else f"cus_{rng.getrandbits(32):08x}"
    lines = [
        {"seller_id": f"seller_{rng.randrange(50)}", "amount_minor": rng.randrange(100, 50_000)}
        for _ in range(rng.randint(1, MAX_LINES))
    ]
    body = {
        "customer_id": customer,
        "currency": "EUR",
        "payment_method": method,
        "lines": lines,
        "return_url": "https://shop.example/thanks",
    }
    return PlannedPayment(key, kind, body)


@dataclass(frozen=True)
class Accepted:
    key: str
    kind: Kind
    payment_id: str
    attempts: int


@dataclass(frozen=True)
class Answer:
    at: float  # time.monotonic() when the answer (or the failure to get one) came
    status: int | None  # None: no HTTP answer (refused, reset, timed out)


@dataclass
class LoadResult:
    accepted: list[Accepted] = field(default_factory=list)
    # Requests the BFF refused for good (a 4xx other than 429), or gave up on: contract breaches.
    failed: list[str] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)

    @property
    def expected(self) -> dict[str, str]:
        """payment id -> the BFF status it should end in."""
        return {a.payment_id: OUTCOME[a.kind] for a in self.accepted}

    @property
    def retried(self) -> int:
        return sum(a.attempts - 1 for a in self.accepted)


class LoadGenerator:
    """Sends `plans` from `concurrency` threads, at most `rate` new payments per second (None:
    as fast as the BFF answers); `give_up_after` bounds the retries of one payment."""

    def __init__(
        self,
        bff_url: str,
        token: str,
        plans: list[PlannedPayment],
        *,
        concurrency: int = 8,
        rate: float | None = None,
        give_up_after: float = 180.0,
    ) -> None:
        self._bff_url = bff_url
        self._token = token
        self._plans = plans
        self._concurrency = concurrency
        self._rate = rate
        self._give_up_after = give_up_after
        self._next = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._started = 0.0
        self.result = LoadResult()

    def start(self) -> None:
        self._started = time.monotonic()
        self._threads = [
            threading.Thread(target=self._work, name=f"load-{n}", daemon=True)
            for n in range(self._concurrency)
        ]
        for thread in self._threads:
            thread.start()

    def wait(self, timeout: float | None = None) -> LoadResult:
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        if any(t.is_alive() for t in self._threads):
            self._stop.set()
            raise TimeoutError(f"the load did not finish within {timeout}s")
        return self.result

    def run(self) -> LoadResult:
        self.start()
        return self.wait()

    def _take(self) -> tuple[int, PlannedPayment] | None:
        with self._lock:
            if self._next >= len(self._plans) or self._stop.is_set():
                return None
            n = self._next
            self._next += 1
            return n, self._plans[n]

    def _work(self) -> None:
        with httpx.Client(
            base_url=self._bff_url,
            headers={"Authorization": f"Bearer {self._token}"},
            timeout=10,
            trust_env=False,  # no proxy between us and 127.0.0.1
        ) as client:
            while (taken := self._take()) is not None:
                n, plan = taken
                if self._rate:
                    self._stop.wait(max(0.0, self._started + n / self._rate - time.monotonic()))
                self._submit(client, plan)

    def _submit(self, client: httpx.Client, plan: PlannedPayment) -> None:
        give_up_at = time.monotonic() + self._give_up_after
        attempt = 0
        while not self._stop.is_set():
            attempt += 1
            try:
                response = client.post(
                    "/v1/payments", json=plan.body, headers={"Idempotency-Key": plan.key}
                )
            except httpx.TransportError:
                self.result.answers.append(Answer(time.monotonic(), None))
                wait = _backoff(attempt)
            else:
                self.result.answers.append(Answer(time.monotonic(), response.status_code))
                if response.status_code == 202:
                    payment_id = str(response.json()["payment_id"])
                    self.result.accepted.append(Accepted(plan.key, plan.kind, payment_id, attempt))
                    return
                if response.status_code < 500 and response.status_code != 429:
                    self.result.failed.append(
                        f"{plan.key}: {response.status_code} {response.text[:300]}"
                    )
                    return
                wait = _retry_after(response) or _backoff(attempt)
            if time.monotonic() + wait > give_up_at:
                self.result.failed.append(f"{plan.key}: no 202 after {attempt} attempts")
                return
            self._stop.wait(wait)


def _backoff(attempt: int) -> float:
    return random.uniform(0.05, min(MAX_RETRY_WAIT, 0.1 * 2**attempt))


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return min(MAX_RETRY_WAIT, float(response.headers["Retry-After"]))
    except (KeyError, ValueError):
        return None
