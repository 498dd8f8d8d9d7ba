"""The provider client against psp-sim served for real: answers become typed results, failures
become the runtime's error kinds."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import httpx
import pytest

from payctl.embedded import free_port, wait_for
from paykit.errors import PermanentError, RetryLater
from paykit.migrations import upgrade
from paykit.provider import (
    Authorization,
    OutcomeUnknown,
    ProviderClient,
    ProviderRejected,
    ProviderUnavailable,
    Refund,
)
from psp_sim import MIGRATIONS, admin_client
from psp_sim.behaviour import Failure
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


# Short enough that a withheld answer costs a test a fraction of a second.
SHORT_TIMEOUT = 0.5


@pytest.fixture
def psp_url(fresh_database: str) -> Iterator[str]:
    upgrade(MIGRATIONS, fresh_database)
    with serve(fresh_database) as psp:
        yield psp.url


@pytest.fixture
def client(psp_url: str) -> Iterator[ProviderClient]:
    with ProviderClient(psp_url) as client:
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

    assert isinstance(unavailable.value, RetryLater)
    assert not isinstance(unavailable.value, OutcomeUnknown)  # nothing was sent
    assert unavailable.value.code == "provider_unavailable"


def test_a_provider_failing_with_5xx_leaves_the_outcome_unknown(
    postgres: EmbeddedPostgres,
) -> None:
    missing_database = postgres.url(new_id("missing"))
    with serve(missing_database) as psp, ProviderClient(psp.url) as client:
        with pytest.raises(OutcomeUnknown, match="503"):
            authorize(client, new_id("key"))
        with pytest.raises(ProviderUnavailable) as read:
            client.find_operations(new_id("key"))
    assert not isinstance(read.value, OutcomeUnknown)  # a read has no outcome to lose


def test_a_provider_slower_than_the_timeout_leaves_the_outcome_unknown(
    fresh_database: str,
) -> None:
    upgrade(MIGRATIONS, fresh_database)
    with (
        serve(fresh_database, latency_ms=2000) as psp,
        ProviderClient(psp.url, timeout=0.2) as client,
        pytest.raises(OutcomeUnknown, match="Timeout") as unknown,
    ):
        authorize(client, new_id("key"))
    assert isinstance(unknown.value, ProviderUnavailable)
    assert unknown.value.code == "provider_outcome_unknown"


def test_a_withheld_answer_is_an_unknown_outcome_the_ledger_settles(psp_url: str) -> None:
    admin_client.set_behaviour(psp_url, failure=Failure(kind="timeout", count=1))
    key = new_id("key")

    with ProviderClient(psp_url, timeout=SHORT_TIMEOUT) as client:
        with pytest.raises(OutcomeUnknown):
            authorize(client, key, reference="pay_withheld")
        wait_for(lambda: client.find_operations(key), 10, "the withheld authorization")
        retried = authorize(client, key, reference="pay_withheld")
        [operation] = client.find_operations(key)

    assert (operation.kind, operation.id, operation.reference) == (
        "authorization",
        retried.id,
        "pay_withheld",
    )


def test_a_5xx_burst_fails_then_the_same_key_succeeds_once(
    psp_url: str, client: ProviderClient
) -> None:
    admin_client.set_behaviour(psp_url, failure=Failure(kind="error_5xx", count=2))
    key = new_id("key")

    for _ in range(2):
        with pytest.raises(OutcomeUnknown, match="503"):
            authorize(client, key)
        assert client.find_operations(key) == []
    done = authorize(client, key)

    assert [op.id for op in client.find_operations(key)] == [done.id]


def captured(client: ProviderClient, amount_minor: int) -> str:
    held = authorize(client, new_id("key"), amount_minor=amount_minor)
    capture = client.capture(
        idempotency_key=new_id("key"),
        authorization_id=held.id,
        amount_minor=amount_minor,
        reference=new_id("po"),
    )
    return capture.id


def test_a_refund(client: ProviderClient) -> None:
    capture_id = captured(client, 1000)
    key = new_id("key")

    refund = client.refund(
        idempotency_key=key, capture_id=capture_id, amount_minor=300, reference="re_1"
    )
    again = client.refund(
        idempotency_key=key, capture_id=capture_id, amount_minor=300, reference="re_1"
    )

    assert refund == Refund(
        id=refund.id,
        capture_id=capture_id,
        amount_minor=300,
        currency="EUR",
        status="refunded",
        created_at=refund.created_at,
    )
    assert refund.id.startswith("re_")
    assert refund.created_at.tzinfo is not None
    assert again == refund
    [operation] = client.find_operations(key)
    assert (operation.kind, operation.id, operation.capture_id, operation.reference) == (
        "refund",
        refund.id,
        capture_id,
        "re_1",
    )
    assert (operation.amount_minor, operation.status) == (300, "refunded")
    assert operation.created_at == refund.created_at


def test_a_refund_over_the_captured_amount_is_refused(client: ProviderClient) -> None:
    capture_id = captured(client, 500)
    client.refund(
        idempotency_key=new_id("key"), capture_id=capture_id, amount_minor=400, reference="re_1"
    )

    with pytest.raises(ProviderRejected) as refused:
        client.refund(
            idempotency_key=new_id("key"),
            capture_id=capture_id,
            amount_minor=101,
            reference="re_2",
        )

    assert (refused.value.code, refused.value.status_code) == ("refund_exceeds_capture", 422)


def test_a_refund_of_an_unknown_capture_is_refused(client: ProviderClient) -> None:
    with pytest.raises(ProviderRejected) as refused:
        client.refund(
            idempotency_key=new_id("key"), capture_id="cap_nope", amount_minor=1, reference="re"
        )

    assert (refused.value.code, refused.value.status_code) == ("capture_not_found", 404)


def answering(status: int, body: bytes) -> ProviderClient:
    """A client whose provider answers every call with `status` and `body`."""
    transport = httpx.MockTransport(lambda _request: httpx.Response(status, content=body))
    return ProviderClient("http://provider.invalid", transport=transport)


def failing_with(error: type[httpx.TransportError]) -> ProviderClient:
    """A client whose every call fails in transport with `error`."""

    def fail(request: httpx.Request) -> httpx.Response:
        raise error("simulated", request=request)

    return ProviderClient("http://provider.invalid", transport=httpx.MockTransport(fail))


def refund(client: ProviderClient) -> Refund:
    return client.refund(idempotency_key="k", capture_id="cap_1", amount_minor=1, reference="re")


@pytest.mark.parametrize(
    "error",
    [
        httpx.ReadTimeout,
        httpx.WriteTimeout,
        httpx.RemoteProtocolError,
        httpx.ReadError,
        httpx.WriteError,
    ],
)
def test_a_call_cut_off_after_sending_leaves_the_outcome_unknown(
    error: type[httpx.TransportError],
) -> None:
    with pytest.raises(OutcomeUnknown, match=error.__name__):
        refund(failing_with(error))
    with pytest.raises(ProviderUnavailable) as read:
        failing_with(error).find_operations("k")
    assert not isinstance(read.value, OutcomeUnknown)


@pytest.mark.parametrize(
    "error", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError]
)
def test_a_call_that_never_left_is_unavailable_not_unknown(
    error: type[httpx.TransportError],
) -> None:
    with pytest.raises(ProviderUnavailable) as unavailable:
        refund(failing_with(error))
    assert not isinstance(unavailable.value, OutcomeUnknown)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_leaves_the_outcome_unknown(status: int) -> None:
    body = b'{"code": "internal_error", "message": "boom"}'
    with pytest.raises(OutcomeUnknown, match=str(status)):
        refund(answering(status, body))


def test_an_unreadable_2xx_leaves_the_outcome_unknown() -> None:
    with pytest.raises(OutcomeUnknown, match="unreadable"):
        refund(answering(201, b"<html>maintenance</html>"))


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, b'{"code": "invalid_api_key", "message": "rotated"}'),
        (403, b'{"code": "forbidden", "message": "not allowed"}'),
        (404, b'{"detail": "Not Found"}'),  # a wrong PSP_URL path, not the provider's refusal
        (408, b""),
        (429, b'{"code": "rate_limited", "message": "slow down"}'),
    ],
)
def test_answers_that_say_nothing_about_the_payment_are_retried_never_refusals(
    status: int, body: bytes
) -> None:
    with pytest.raises(ProviderUnavailable) as unavailable:
        answering(status, body).capture(
            idempotency_key="k", authorization_id="auth_1", amount_minor=100, reference="po"
        )
    assert not isinstance(unavailable.value, OutcomeUnknown)  # not performed: refused at the door


def test_a_4xx_in_the_providers_own_shape_is_a_refusal() -> None:
    refused = b'{"code": "amount_exceeds_authorization", "message": "too much"}'
    with pytest.raises(ProviderRejected) as e:
        answering(409, refused).capture(
            idempotency_key="k", authorization_id="auth_1", amount_minor=100, reference="po"
        )
    assert e.value.code == "amount_exceeds_authorization"
