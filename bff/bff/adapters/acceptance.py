"""Records accepted payments in plain SQL, on the server's event loop: the hot path of `POST
/v1/payments` and of paying a checkout session. A payment, its first history entry, its
idempotency key with the answer given, and `PaymentInitiated` in the outbox are written by one
statement, so they exist together or not at all. The ORM (`bff.adapters.orm`) maps the same
tables for every other path, and reads what this writes."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
import psycopg
from psycopg.errors import UniqueViolation
from psycopg.types.json import Jsonb

from bff.adapters.orm import checkout_lines, payment_lines_json
from bff.domain.checkout import CheckoutSession
from bff.domain.idempotency import Answer
from bff.domain.status import PaymentStatus
from paykit.outbox import INSERT_OUTBOX_ROW, as_parameters, outbox_row

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

    from bff.domain.payment import NewPayment
    from paykit.messages import Trace
    from payment_events.codec import Codec

# A key's first request; the statement that claims it fails on this constraint for every other.
KEY_CONSTRAINT = "idempotency_keys_pkey"

# One statement, one implicit transaction: the key, the payment, its first history entry and its
# event. Its parts are statements of their own (`_recording` makes them one).
_CLAIM_KEY = """
    INSERT INTO idempotency_keys
        (client_id, key, fingerprint, payment_id, status_code, response)
    VALUES (%(client_id)s, %(idempotency_key)s, %(fingerprint)s, %(payment_id)s,
        %(status_code)s, %(response)s)"""
_ADD_PAYMENT = """
    INSERT INTO payments
        (payment_id, client_id, customer_id, currency, amount_minor, lines, return_url, status,
        authorized_minor, captured_minor, refunded_minor, created_at, updated_at)
    VALUES (%(payment_id)s, %(client_id)s, %(customer_id)s, %(currency)s, %(amount_minor)s,
        %(lines)s, %(return_url)s, %(status)s, 0, 0, 0, %(created_at)s, %(created_at)s)"""
_ADD_HISTORY_ENTRY = """
    INSERT INTO payment_history (payment_id, status, event, event_id, at)
    VALUES (%(payment_id)s, %(history_status)s, %(history_event)s, %(history_event_id)s,
        %(history_at)s)"""
# A checkout session's payment becomes the session's last one.
_MARK_SESSION_PAID = """
    UPDATE checkout_sessions SET payment_id = %(payment_id)s, attempts = %(attempts)s
    WHERE session_id = %(session_id)s"""


def _recording(*parts: str) -> str:
    ctes = ",\n".join(f"part_{n} AS ({sql}\n)" for n, sql in enumerate(parts))
    return f"WITH {ctes}\n{INSERT_OUTBOX_ROW}"


_RECORD_PAYMENT = _recording(_CLAIM_KEY, _ADD_PAYMENT, _ADD_HISTORY_ENTRY)
_RECORD_CHECKOUT_PAYMENT = _recording(
    _CLAIM_KEY, _ADD_PAYMENT, _ADD_HISTORY_ENTRY, _MARK_SESSION_PAID
)
_FIRST_USE = (
    "SELECT fingerprint, status_code, response FROM idempotency_keys "
    "WHERE client_id = %(client_id)s AND key = %(idempotency_key)s"
)
_LOCK_SESSION = (
    "SELECT session_id, client_id, customer_id, currency, lines, return_url, key_digest, "
    "created_at, expires_at, payment_id, attempts "
    "FROM checkout_sessions WHERE session_id = %(session_id)s FOR UPDATE"
)
# A statement of its own, after the lock: it sees what a twin that held the lock committed
# (a statement waiting for a row lock keeps the snapshot it started with for the other tables).
_SESSION_STATE = (
    "SELECT (SELECT status FROM payments WHERE payment_id = s.payment_id), "
    "k.fingerprint, k.status_code, k.response "
    "FROM checkout_sessions s LEFT JOIN idempotency_keys k "
    "ON k.client_id = s.client_id AND k.key = %(idempotency_key)s "
    "WHERE s.session_id = %(session_id)s"
)


def _jsonb(value: Any) -> Jsonb:
    return Jsonb(value, dumps=orjson.dumps)


@dataclass(frozen=True)
class FirstUse:
    """What a taken idempotency key was first used for, and the answer it was given."""

    fingerprint: str
    answer: Answer


@dataclass(frozen=True)
class Accepted:
    """A payment accepted under an idempotency key: the answer stored with the key and the
    fingerprint of the request it answers."""

    payment: NewPayment
    client_id: str
    idempotency_key: str
    fingerprint: str
    answer: Answer
    trace: Trace


class Acceptance:
    def __init__(self, pool: AsyncConnectionPool[AsyncConnection[Any]], codec: Codec) -> None:
        self._pool = pool
        self._codec = codec
        # Held until done: the event loop keeps only a weak reference to a task.
        self._check: asyncio.Task[None] | None = None

    async def record(self, accepted: Accepted) -> FirstUse | None:
        """Records the payment under its key; None when it is recorded, or how the key was first
        used when it already was. A twin request still in flight holds the key's uncommitted row:
        this waits for it, then sees the key taken (or claims it if the twin rolled back)."""
        async with self._connection() as conn:
            try:
                await conn.execute(_RECORD_PAYMENT, _parameters(self._codec, accepted))
            except UniqueViolation as e:
                if e.diag.constraint_name != KEY_CONSTRAINT:
                    raise
                # Nothing of the statement stays, its outbox notice neither.
                return await _first_use(conn, accepted.client_id, accepted.idempotency_key)
        return None

    @asynccontextmanager
    async def checkout_payment(
        self, session_id: str, idempotency_key: str
    ) -> AsyncIterator[CheckoutPayment]:
        """A transaction holding the session's row lock, with the session as it stands: two
        clicks take turns, and the second sees what the first did. Round trips are pipelined:
        one to lock and read, one to record and commit."""
        async with (
            self._connection() as conn,
            conn.pipeline() as pipeline,
            conn.transaction(),
        ):
            keys = {"session_id": session_id, "idempotency_key": idempotency_key}
            locked = await conn.execute(_LOCK_SESSION, keys)
            state = await conn.execute(_SESSION_STATE, keys)
            await pipeline.sync()
            session_row, state_row = await locked.fetchone(), await state.fetchone()
            yield CheckoutPayment(conn, self._codec, session_row, state_row)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        try:
            async with self._pool.connection() as conn:
                yield conn
        except psycopg.OperationalError:
            # The database went away (a restart, a failover): the pool's other idle connections
            # are most likely broken too. Checked now, in the background and one check at a
            # time, instead of before every use.
            if self._check is None or self._check.done():
                self._check = asyncio.get_running_loop().create_task(self._pool.check())
            raise


class CheckoutPayment:
    """A checkout session being paid, inside `Acceptance.checkout_payment`'s transaction."""

    def __init__(
        self,
        conn: AsyncConnection[Any],
        codec: Codec,
        session_row: tuple[Any, ...] | None,
        state_row: tuple[Any, ...] | None,
    ) -> None:
        self._conn = conn
        self._codec = codec
        self.session: CheckoutSession | None = None
        self.last_status: PaymentStatus | None = None
        self.first_use: FirstUse | None = None
        if session_row is None or state_row is None:
            return
        (sid, client, customer, currency, lines, return_url, digest, created, expires, paid_by,
         attempts) = session_row  # fmt: skip
        self.session = CheckoutSession(
            session_id=sid,
            client_id=client,
            customer_id=customer,
            currency=currency,
            lines=checkout_lines(lines),
            return_url=return_url,
            key_digest=digest,
            created_at=created,
            expires_at=expires,
            payment_id=paid_by,
            attempts=attempts,
        )
        last_status, fingerprint, status_code, response = state_row
        self.last_status = PaymentStatus(last_status) if last_status else None
        if fingerprint is not None:
            self.first_use = FirstUse(fingerprint, Answer(status_code, response))

    async def record(self, accepted: Accepted) -> None:
        """Records the session's payment (the session has taken it: `CheckoutSession.pay`);
        committed when the transaction ends."""
        assert self.session is not None
        parameters = _parameters(self._codec, accepted)
        parameters["session_id"] = self.session.session_id
        parameters["attempts"] = self.session.attempts
        await self._conn.execute(_RECORD_CHECKOUT_PAYMENT, parameters)


async def _first_use(conn: AsyncConnection[Any], client_id: str, key: str) -> FirstUse:
    cursor = await conn.execute(_FIRST_USE, {"client_id": client_id, "idempotency_key": key})
    row = await cursor.fetchone()
    assert row is not None, "a key that a statement found taken is committed"
    fingerprint, status_code, response = row
    return FirstUse(fingerprint, Answer(status_code, response))


def _parameters(codec: Codec, accepted: Accepted) -> dict[str, Any]:
    payment = accepted.payment
    event = payment.initiated
    return {
        "client_id": accepted.client_id,
        "idempotency_key": accepted.idempotency_key,
        "fingerprint": accepted.fingerprint,
        "status_code": accepted.answer.status_code,
        "response": _jsonb(accepted.answer.body),
        "payment_id": payment.payment_id,
        "customer_id": payment.customer_id,
        "currency": payment.currency,
        "amount_minor": payment.amount_minor,
        "lines": _jsonb(payment_lines_json(payment.lines())),
        "return_url": payment.return_url,
        "status": payment.status.name,
        "created_at": payment.accepted_at,
        # Its first history entry, as `Payment.of` makes it.
        "history_status": payment.status.name,
        "history_event": type(event).__name__,
        "history_event_id": event.event_id,
        "history_at": event.occurred_at,
        **as_parameters(outbox_row(codec, event, accepted.trace)),
    }
