"""The provider client against psp-sim served for real: answers become typed results, failures
become the runtime's error kinds."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import httpx
import pytest

from payctl.embedded import free_port
from paykit.errors import PermanentError, TransientError
from paykit.migrations import upgrade
from paykit.provider import (
    Authorization,
    ProviderClient,
    ProviderRejected,
    ProviderUnavailable,
)
from psp_sim import MIGRATIONS
from psp_sim.server import ThreadedServer
from psp_sim.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Iterator

    from payctl.embedded import EmbeddedPostgres

pytestmark = pytest.mark.integration


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


def serve(database_url: str, latency_ms: int = 0) -> ThreadedServer:
    settings = Settings(
        database_url=database_url, port=free_port(), latency_ms=latency_ms, jitter_ms=0
    )
    return ThreadedServer(settings)


@pytest.fixture
def client(fresh_database: str) -> Iterator[ProviderClient]:
    upgrade(MIGRATIONS, fresh_database)
    with serve(fresh_database) as psp, ProviderClient(psp.url) as client:
        yield client


def authorize(
    client: ProviderClient,
    key: str,
    *,
    amount_minor: int = 1000,
    payment_method: str = "pm_card_visa",
    reference: str | None = None,
) -> Authorization:
    return client.authorize(
        idempotency_key=key,
        amount_minor=amount_minor,
        currency="EUR",
        payment_method=payment_method,
        reference=reference or new_id("pay"),
    )


def test_an_approved_authorization(client: ProviderClient) -> None:
    result = client.authorize(
        idempotency_key=new_id("key"),
        amount_minor=2500,
        currency="EUR",
        payment_method="pm_card_visa",
        reference="pay_1",
    )

    assert result == Authorization(
        id=result.id,
        status="authorized",
        amount_minor=2500,
        currency="EUR",
        reference="pay_1",
        decline_code=None,
        decline_reason=None,
    )
    assert result.id.startswith("auth_")


def test_a_declined_authorization_is_an_answer_not_an_error(client: ProviderClient) -> None:
    result = authorize(client, new_id("key"), payment_method="pm_card_insufficient_funds")

    assert result.status == "declined"
    assert result.decline_code == "insufficient_funds"
    assert result.decline_reason == "Your card has insufficient funds."


def test_a_retried_call_returns_the_first_answer_and_charges_once(client: ProviderClient) -> None:
    key = new_id("key")
    first = authorize(client, key, reference="pay_retry")
    again = authorize(client, key, reference="pay_retry")

    assert again == first
    [operation] = client.find_operations(key)
    assert (operation.kind, operation.id, operation.idempotency_key) == (
        "authorization",
        first.id,
        key,
    )
    assert (operation.status, operation.amount_minor, operation.currency) == (
        "authorized",
        1000,
        "EUR",
    )
    assert operation.created_at.tzinfo is not None


def test_captures_and_a_void(client: ProviderClient) -> None:
    held = authorize(client, new_id("key"), amount_minor=1000)
    capture = client.capture(
        idempotency_key=new_id("key"), authorization_id=held.id, amount_minor=400, reference="po_1"
    )
    other = authorize(client, new_id("key"))
    void = client.void(idempotency_key="void-key", authorization_id=other.id, reference="pay_2")

    assert (capture.authorization_id, capture.amount_minor, capture.status) == (
        held.id,
        400,
        "succeeded",
    )
    assert capture.reference == "po_1"
    assert capture.id.startswith("cap_")
    assert (void.authorization_id, void.status) == (other.id, "succeeded")
    assert [op.kind for op in client.find_operations("void-key")] == ["void"]


def test_a_refusal_carries_the_providers_code_and_message(client: ProviderClient) -> None:
    held = authorize(client, new_id("key"), amount_minor=100)

    with pytest.raises(ProviderRejected) as refused:
        client.capture(
            idempotency_key="k", authorization_id=held.id, amount_minor=101, reference="po"
        )

    assert isinstance(refused.value, PermanentError)
    assert refused.value.code == "amount_exceeds_authorization"
    assert refused.value.status_code == 409
    assert "100" in refused.value.message


def test_an_unknown_payment_method_is_refused(client: ProviderClient) -> None:
    with pytest.raises(ProviderRejected) as refused:
        authorize(client, new_id("key"), payment_method="pm_nope")

    assert (refused.value.code, refused.value.status_code) == ("invalid_payment_method", 400)


def test_a_key_the_provider_never_saw_has_no_operations(client: ProviderClient) -> None:
    assert client.find_operations(new_id("key")) == []


def test_nothing_listening_is_unavailable() -> None:
    with (
        ProviderClient(f"http://127.0.0.1:{free_port()}") as client,
        pytest.raises(ProviderUnavailable) as unavailable,
    ):
        authorize(client, new_id("key"))

    assert isinstance(unavailable.value, TransientError)
    assert unavailable.value.code == "provider_unavailable"


def test_a_provider_failing_with_5xx_is_unavailable(postgres: EmbeddedPostgres) -> None:
    missing_database = postgres.url(new_id("missing"))
    with serve(missing_database) as psp, ProviderClient(psp.url) as client:
        with pytest.raises(ProviderUnavailable, match="503"):
            authorize(client, new_id("key"))
        with pytest.raises(ProviderUnavailable):
            client.find_operations(new_id("key"))


def test_a_provider_slower_than_the_timeout_is_unavailable(fresh_database: str) -> None:
    upgrade(MIGRATIONS, fresh_database)
    with (
        serve(fresh_database, latency_ms=2000) as psp,
        ProviderClient(psp.url, timeout=0.2) as client,
        pytest.raises(ProviderUnavailable, match="Timeout"),
    ):
        authorize(client, new_id("key"))


def answering(status: int, body: bytes) -> ProviderClient:
    """A client whose provider answers every call with `status` and `body`."""
    transport = httpx.MockTransport(lambda _request: httpx.Response(status, content=body))
    return ProviderClient("http://provider.invalid", transport=transport)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, b'{"code": "invalid_api_key", "message": "rotated"}'),
        (403, b'{"code": "forbidden", "message": "not allowed"}'),
        (404, b'{"detail": "Not Found"}'),  # a wrong PSP_URL path, not the provider's refusal
        (408, b""),
        (200, b"<html>maintenance</html>"),
    ],
)
def test_answers_that_say_nothing_about_the_payment_are_retried_never_refusals(
    status: int, body: bytes
) -> None:
    with pytest.raises(ProviderUnavailable):
        answering(status, body).capture(
            idempotency_key="k", authorization_id="auth_1", amount_minor=100, reference="po"
        )


def test_a_4xx_in_the_providers_own_shape_is_a_refusal() -> None:
    refused = b'{"code": "amount_exceeds_authorization", "message": "too much"}'
    with pytest.raises(ProviderRejected) as e:
        answering(409, refused).capture(
            idempotency_key="k", authorization_id="auth_1", amount_minor=100, reference="po"
        )
    assert e.value.code == "amount_exceeds_authorization"
