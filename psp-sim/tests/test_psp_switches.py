"""The behaviour switches, set through the admin API while the server runs: each failure does
what it says to the operations, and nothing else is ever affected."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from payctl.embedded import free_port, wait_for
from psp_sim import admin_client
from psp_sim.behaviour import Failure
from psp_sim.server import ThreadedServer
from psp_sim.settings import Settings

if TYPE_CHECKING:
    from conftest import PspApi

pytestmark = pytest.mark.integration

# Clients that give up fast, so a withheld answer costs the test a fraction of a second.
SHORT_TIMEOUT = 0.5


def test_get_shows_what_put_set(psp_url: str) -> None:
    failure = Failure(kind="error_5xx", count=3, rate=0.5)

    answered = admin_client.set_behaviour(
        psp_url, latency_ms=5, jitter_ms=2, failure=failure, seed=7
    )
    shown = admin_client.behaviour(psp_url)

    assert shown == answered
    assert (shown.latency_ms, shown.jitter_ms, shown.failure, shown.seed) == (5, 2, failure, 7)
    assert (shown.failing, shown.failures_left, shown.seconds_left) == (True, 3, None)
    raw = httpx.get(f"{psp_url}/admin/behaviour").json()
    assert raw["failure"] == {
        "kind": "error_5xx",
        "count": 3,
        "for_seconds": None,
        "rate": 0.5,
        "hold_seconds": 30.0,
    }


def test_put_replaces_every_switch_and_delete_restores_the_start(psp_url: str) -> None:
    admin_client.set_behaviour(psp_url, latency_ms=5, failure=Failure(kind="timeout"))

    replaced = admin_client.set_behaviour(psp_url, jitter_ms=1)
    restored = admin_client.reset(psp_url)

    assert (replaced.latency_ms, replaced.jitter_ms, replaced.failure) == (0, 1, None)
    assert (restored.latency_ms, restored.jitter_ms, restored.failure) == (0, 0, None)
    assert restored.failing is False


@pytest.mark.parametrize(
    "body",
    [
        {"latency_ms": -1},
        {"latency_ms": "slow"},
        {"unknown": 1},
        {"failure": {"kind": "meltdown"}},
        {"failure": {"count": 2}},
        {"failure": {"kind": "error_5xx", "rate": 1.5}},
        {"failure": {"kind": "error_5xx", "count": 0}},
        {"failure": {"kind": "error_5xx", "for_seconds": -1}},
        {"failure": {"kind": "timeout", "hold_seconds": 0}},
        {"failure": {"kind": "timeout", "typo": True}},
    ],
)
def test_a_bad_admin_body_is_refused_with_422_and_changes_nothing(
    psp_url: str, body: dict[str, Any]
) -> None:
    before = admin_client.set_behaviour(psp_url, failure=Failure(kind="error_5xx", count=1))

    response = httpx.put(f"{psp_url}/admin/behaviour", json=body)

    assert response.status_code == 422
    assert set(response.json()) == {"code", "message"}
    assert response.json()["code"] == "invalid_request"
    assert admin_client.behaviour(psp_url) == before


def test_an_error_5xx_burst_fails_n_operations_then_the_retry_succeeds_once(
    psp: PspApi, psp_url: str
) -> None:
    injected_before = injected_5xx_authorizations(psp)
    admin_client.set_behaviour(psp_url, failure=Failure(kind="error_5xx", count=2))

    attempts = [psp.authorize(key="k-burst", reference="pay_burst") for _ in range(3)]

    assert [a.status_code for a in attempts] == [503, 503, 201]
    assert attempts[0].json()["code"] == "service_unavailable"
    assert "Idempotent-Replayed" not in attempts[2].headers  # the first two performed nothing
    assert len(psp.operations(idempotency_key="k-burst")) == 1
    state = admin_client.behaviour(psp_url)
    assert (state.failing, state.failures_left) == (False, 0)
    # The counter is process-wide: other tests in the session may have counted before.
    assert injected_5xx_authorizations(psp) == injected_before + 2


def injected_5xx_authorizations(psp: PspApi) -> float:
    series = 'psp_injected_failures_total{failure="error_5xx",kind="authorization"} '
    for line in psp.http.get("/metrics").text.splitlines():
        if line.startswith(series):
            return float(line.removeprefix(series))
    return 0.0


def test_an_error_5xx_burst_applies_to_every_operation(psp: PspApi, psp_url: str) -> None:
    auth = psp.authorize(amount_minor=1000).json()
    capture = psp.capture(auth["id"], 500).json()
    admin_client.set_behaviour(psp_url, failure=Failure(kind="error_5xx"))

    answers = [
        psp.authorize(),
        psp.capture(auth["id"], 100),
        psp.void(auth["id"]),
        psp.refund(capture["id"], 100),
    ]

    assert [a.status_code for a in answers] == [503, 503, 503, 503]
    assert len(psp.operations()) == 2


def test_an_error_5xx_window_fails_operations_until_it_ends(psp: PspApi, psp_url: str) -> None:
    admin_client.set_behaviour(psp_url, failure=Failure(kind="error_5xx", for_seconds=0.5))
    failed: list[str] = []

    def succeeds() -> bool:
        reference = f"pay_window_{len(failed)}"
        status = psp.authorize(reference=reference).status_code
        if status == 503:
            failed.append(reference)
        return status == 201

    wait_for(succeeds, 10, "the end of the failure window", interval=0.05)

    assert failed  # the window was open when the test began
    assert all(psp.operations(reference=r) == [] for r in failed)
    state = admin_client.behaviour(psp_url)
    assert (state.failing, state.seconds_left) == (False, 0.0)


def test_a_timeout_performs_the_operation_and_withholds_the_answer(
    psp: PspApi, psp_url: str
) -> None:
    admin_client.set_behaviour(psp_url, failure=Failure(kind="timeout", count=1))
    body = {"amount_minor": 700, "currency": "EUR", "payment_method": "pm_card_visa"}

    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{psp_url}/v1/authorizations",
            json=body | {"reference": "pay_timeout"},
            headers={"Idempotency-Key": "k-timeout"},
            timeout=SHORT_TIMEOUT,
        )

    wait_for(lambda: psp.operations(idempotency_key="k-timeout"), 10, "the withheld operation")
    retry = psp.authorize(key="k-timeout", reference="pay_timeout", amount_minor=700)
    [row] = psp.operations(idempotency_key="k-timeout")
    assert retry.status_code == 201
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json()["id"] == row["id"]


def test_a_withheld_answer_does_not_hold_up_shutdown(psp_database: str) -> None:
    settings = Settings(database_url=psp_database, port=free_port(), latency_ms=0, jitter_ms=0)
    server = ThreadedServer(settings)
    server.start()
    try:
        admin_client.set_behaviour(server.url, failure=Failure(kind="timeout", hold_seconds=600))
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(
                f"{server.url}/v1/captures/cap_1/refunds",
                json={"amount_minor": 1, "reference": "re"},
                headers={"Idempotency-Key": "k-held"},
                timeout=SHORT_TIMEOUT,
            )
    finally:
        started = time.monotonic()
        server.stop()

    # The caller hung up, so the answer is released; stopping does not wait out hold_seconds.
    assert time.monotonic() - started < 10


def test_an_error_after_commit_performs_the_operation_then_answers_500(
    psp: PspApi, psp_url: str
) -> None:
    admin_client.set_behaviour(psp_url, failure=Failure(kind="error_5xx_after_commit", count=1))

    failed = psp.authorize(key="k-after", reference="pay_after")
    retry = psp.authorize(key="k-after", reference="pay_after")

    assert failed.status_code == 500
    assert failed.json()["code"] == "internal_error"
    [row] = psp.operations(idempotency_key="k-after")
    assert retry.status_code == 201
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json()["id"] == row["id"]


def test_a_seeded_failure_rate_fails_the_same_operations_each_run(
    psp: PspApi, psp_url: str
) -> None:
    def run() -> list[int]:
        admin_client.set_behaviour(psp_url, failure=Failure(kind="error_5xx", rate=0.5), seed=11)
        return [psp.authorize().status_code for _ in range(20)]

    first, second = run(), run()

    assert first == second
    assert set(first) == {201, 503}
    assert len(psp.operations(kind="authorization")) == 2 * first.count(201)


def test_latency_slows_operations(psp: PspApi, psp_url: str) -> None:
    admin_client.set_behaviour(psp_url, latency_ms=300)

    started = time.monotonic()
    response = psp.authorize()

    assert response.status_code == 201
    assert time.monotonic() - started >= 0.3


def test_reads_health_and_admin_are_never_affected(psp: PspApi, psp_url: str) -> None:
    psp.authorize(key="k-read")
    admin_client.set_behaviour(psp_url, latency_ms=60_000, failure=Failure(kind="error_5xx"))

    with httpx.Client(base_url=psp_url, timeout=SHORT_TIMEOUT * 4) as fast:
        answers = [
            fast.get("/v1/operations", params={"idempotency_key": "k-read"}),
            fast.get("/healthz"),
            fast.get("/metrics"),
            fast.get("/admin/behaviour"),
            fast.delete("/admin/behaviour"),
        ]

    assert [a.status_code for a in answers] == [200, 200, 200, 200, 200]
    assert len(answers[0].json()["operations"]) == 1


def test_the_switches_it_starts_with_come_from_its_settings(psp_database: str) -> None:
    settings = Settings(
        database_url=psp_database,
        port=free_port(),
        latency_ms=0,
        jitter_ms=0,
        failure=Failure(kind="error_5xx", count=1),
    )
    body = {"amount_minor": 1, "currency": "EUR", "payment_method": "pm_card_visa"}
    with ThreadedServer(settings) as server, httpx.Client(base_url=server.url) as http:
        first, second = (
            http.post(
                "/v1/authorizations",
                json=body | {"reference": "pay_start"},
                headers={"Idempotency-Key": "k-start"},
            )
            for _ in range(2)
        )
        restarted = admin_client.reset(server.url)

    assert (first.status_code, second.status_code) == (503, 201)
    assert (restarted.failure, restarted.failures_left) == (settings.failure, 1)
