"""billing's handlers through the real unit of work, migrations and Postgres."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest
from billing_fakes import FakeProvider
from sqlalchemy import select

import billing
from billing.adapters.orm import authorizations
from billing.bootstrap import Billing, bootstrap
from billing.domain.errors import InvalidTransition, UnknownPayment
from billing.settings import Settings
from paykit.db import inbox, outbox
from paykit.provider import ProviderUnavailable
from payment_events.events import (
    Event,
    OrderFailed,
    PaymentFailed,
    PaymentInitiated,
    PaymentSucceeded,
    PaymentVoided,
    SellerLine,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

pytestmark = pytest.mark.integration


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def service(migrated_database: Callable[[Path], str], provider: FakeProvider) -> Iterator[Billing]:
    database_url = migrated_database(billing.MIGRATIONS)
    service = bootstrap(Settings(BILLING_DATABASE_URL=database_url), provider=provider)
    yield service
    service.wiring.engine.dispose()


def initiated(method: str = "pm_card_visa") -> PaymentInitiated:
    return PaymentInitiated(
        payment_id=str(uuid.uuid4()),
        customer_id="cus_1",
        currency="EUR",
        amount_minor=2500,
        payment_method=method,
        lines=(SellerLine(line_no=0, seller_id="s1", amount_minor=2500),),
    )


def deliver(service: Billing, event: Event, attempt: int = 1, *, replayed: bool = False) -> bool:
    """As the consumer loop does it: claim, handle, commit; False for a duplicate."""
    with service.unit_of_work() as uow:
        uow.attempt = attempt
        uow.replayed = replayed
        if not uow.claim(event.event_id, "test", 0, 0):
            return False
        service.handlers[type(event)](event, uow)
        uow.commit()
    return True


def published(service: Billing) -> list[Event]:
    with service.wiring.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.value).order_by(outbox.c.id)).scalars().all()
    return [service.wiring.codec.decode(v) for v in rows]


def status_of(service: Billing, payment_id: str) -> str:
    with service.wiring.engine.connect() as conn:
        return str(
            conn.execute(
                select(authorizations.c.status).where(authorizations.c.payment_id == payment_id)
            ).scalar_one()
        )


def test_an_approved_payment_is_authorized_once_and_announced(
    service: Billing, provider: FakeProvider
) -> None:
    event = initiated()
    assert deliver(service, event)
    assert not deliver(service, event)  # redelivered: the inbox stops it
    [succeeded] = published(service)
    assert isinstance(succeeded, PaymentSucceeded)
    assert succeeded.payment_id == event.payment_id
    assert succeeded.lines == event.lines
    assert provider.calls[f"{event.payment_id}:authorize"] == 1
    assert status_of(service, event.payment_id) == "AUTHORIZED"


def test_a_declined_payment_publishes_payment_failed_with_the_reason(service: Billing) -> None:
    event = initiated("pm_card_declined")
    deliver(service, event)
    [failed] = published(service)
    assert isinstance(failed, PaymentFailed)
    assert (failed.code, failed.reason) == ("card_declined", "Your card was declined.")
    assert status_of(service, event.payment_id) == "DECLINED"


def test_a_refused_order_voids_the_authorization(service: Billing, provider: FakeProvider) -> None:
    event = initiated()
    deliver(service, event)
    refused = OrderFailed(payment_id=event.payment_id, code="customer_blocked", reason="blocked")
    deliver(service, refused)
    deliver(service, OrderFailed(payment_id=event.payment_id, code="again", reason="replayed"))
    voided = published(service)[-1]
    assert isinstance(voided, PaymentVoided)
    assert voided.reason == "blocked"
    assert provider.calls[f"{event.payment_id}:void"] == 1
    assert status_of(service, event.payment_id) == "VOIDED"


def test_a_provider_outage_leaves_nothing_and_the_retry_authorizes_once(
    service: Billing, provider: FakeProvider
) -> None:
    event = initiated()
    provider.unavailable_for = 1
    with pytest.raises(ProviderUnavailable):
        deliver(service, event)
    assert published(service) == []
    assert deliver(service, event)
    assert len(published(service)) == 1
    assert provider.operations() == 1


def test_a_timed_out_authorization_is_settled_by_asking_the_provider_never_by_a_new_call(
    service: Billing, provider: FakeProvider
) -> None:
    event = initiated()
    provider.answers_lost_for = 1
    with pytest.raises(ProviderUnavailable):
        deliver(service, event)
    assert provider.calls[f"{event.payment_id}:authorize"] == 1
    assert deliver(service, event, attempt=2)
    assert provider.calls[f"{event.payment_id}:authorize"] == 1  # asked, not authorized again
    assert provider.lookups == 1
    [succeeded] = published(service)
    assert isinstance(succeeded, PaymentSucceeded)
    assert status_of(service, event.payment_id) == "AUTHORIZED"


def test_a_retry_that_finds_nothing_at_the_provider_authorizes_then(
    service: Billing, provider: FakeProvider
) -> None:
    event = initiated()
    assert deliver(service, event, attempt=3)
    assert provider.lookups == 1
    assert provider.calls[f"{event.payment_id}:authorize"] == 1
    assert status_of(service, event.payment_id) == "AUTHORIZED"


def test_when_retries_are_used_up_the_payment_fails_with_provider_unavailable(
    service: Billing,
) -> None:
    event = initiated()
    with service.unit_of_work() as uow:
        service.give_up[PaymentInitiated](event, uow, ProviderUnavailable("503 for minutes"))
        uow.commit()
    [failed] = published(service)
    assert isinstance(failed, PaymentFailed)
    assert failed.code == "provider_unavailable"
    assert status_of(service, event.payment_id) == "FAILED"


def test_a_hold_placed_by_a_lost_last_call_is_released_when_giving_up(
    service: Billing, provider: FakeProvider
) -> None:
    event = initiated()
    provider.answers_lost_for = 1
    with pytest.raises(ProviderUnavailable):
        deliver(service, event)  # the provider authorized; billing never heard back
    with service.unit_of_work() as uow:
        service.give_up[PaymentInitiated](event, uow, ProviderUnavailable("timed out"))
        uow.commit()
    assert provider.calls[f"{event.payment_id}:void"] == 1
    [failed] = published(service)
    assert isinstance(failed, PaymentFailed)
    assert status_of(service, event.payment_id) == "FAILED"


def test_a_timed_out_void_is_settled_by_asking_the_provider(
    service: Billing, provider: FakeProvider
) -> None:
    event = initiated()
    assert deliver(service, event)
    refused = OrderFailed(payment_id=event.payment_id, code="customer_blocked", reason="blocked")
    provider.void(
        idempotency_key=f"{event.payment_id}:void",
        authorization_id="auth_1",
        reference=event.payment_id,
    )  # the provider voided; billing never heard back
    assert deliver(service, refused, attempt=2)
    assert provider.calls[f"{event.payment_id}:void"] == 1
    assert status_of(service, event.payment_id) == "VOIDED"


def test_a_void_for_an_unknown_or_declined_payment_is_impossible(service: Billing) -> None:
    with pytest.raises(UnknownPayment):
        deliver(service, OrderFailed(payment_id=str(uuid.uuid4()), code="x", reason="x"))
    declined = initiated("pm_card_declined")
    deliver(service, declined)
    with pytest.raises(InvalidTransition):
        deliver(service, OrderFailed(payment_id=declined.payment_id, code="x", reason="x"))


def test_a_replayed_void_for_a_payment_not_yet_replayed_waits_for_it(service: Billing) -> None:
    # A replay re-delivers order-failed and payment-initiated independently.
    refused = OrderFailed(payment_id=str(uuid.uuid4()), code="customer_blocked", reason="blocked")
    with service.unit_of_work() as uow:
        uow.replayed = True
        service.handlers[OrderFailed](refused, uow)
        assert uow.retry_reason is not None
    assert published(service) == []


def test_a_replayed_authorization_is_settled_by_asking_the_provider(
    service: Billing, provider: FakeProvider
) -> None:
    event = initiated()
    assert deliver(service, event)
    [first] = published(service)
    # The database is restored from a backup taken before the payment: billing forgets it.
    with service.wiring.engine.begin() as conn:
        for table in (authorizations, inbox, outbox):
            conn.execute(table.delete())
    assert deliver(service, event, replayed=True)
    assert provider.calls[f"{event.payment_id}:authorize"] == 1  # asked, not sent again
    assert status_of(service, event.payment_id) == "AUTHORIZED"
    # The same event under the same id: subscribers that had it skip it.
    assert [e.event_id for e in published(service)] == [first.event_id]
