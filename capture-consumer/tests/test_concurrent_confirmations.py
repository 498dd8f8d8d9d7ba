"""Two instances handling the same payment at once, under two event ids: one captures, the other
waits on the payment's primary key, fails without calling the provider, and its retry is a no-op.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import psycopg
import pytest
from capture_delivery import deliver, published
from capture_fakes import FakeProvider
from capture_random_events import capture_key, order_confirmed
from sqlalchemy.exc import IntegrityError

from capture.bootstrap import bootstrap
from payctl.embedded import wait_for

if TYPE_CHECKING:
    from capture.settings import Settings
    from paykit.provider import Capture

pytestmark = pytest.mark.integration


class HeldProvider(FakeProvider):
    """Holds every capture until released, so the first handler stays inside its transaction."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def capture(
        self, *, idempotency_key: str, authorization_id: str, amount_minor: int, reference: str
    ) -> Capture:
        self.entered.set()
        assert self.release.wait(30)
        return super().capture(
            idempotency_key=idempotency_key,
            authorization_id=authorization_id,
            amount_minor=amount_minor,
            reference=reference,
        )


def sessions_waiting_on_locks(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_twin_confirmations_in_flight_capture_each_line_once(settings: Settings) -> None:
    provider = HeldProvider()
    service = bootstrap(settings, provider=provider)
    first = order_confirmed((700, 300))
    twin = dataclasses.replace(first, event_id=str(uuid.uuid4()))
    try:
        with ThreadPoolExecutor(2) as pool:
            handled_first = pool.submit(deliver, service, first)
            assert provider.entered.wait(30)  # the first holds the payment row, uncommitted
            handled_twin = pool.submit(deliver, service, twin)
            wait_for(
                lambda: sessions_waiting_on_locks(settings.database_url) == 1,
                30,
                "the twin waiting on the payment's primary key",
            )
            provider.release.set()
            assert handled_first.result(30)
            with pytest.raises(IntegrityError):
                handled_twin.result(30)
        assert deliver(service, twin)  # the runtime's retry finds the payment recorded
        assert len(published(service)) == 1
    finally:
        provider.release.set()
        service.wiring.engine.dispose()
    assert provider.performed == {capture_key(first, 0): 1, capture_key(first, 1): 1}
    assert sum(provider.calls.values()) == 2
