"""The behaviour on its own (no server): which operations a failure hits, and the switches the
environment starts it with."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from psp_sim.behaviour import Behaviour, Failure, FailureKind, Switches
from psp_sim.settings import Settings


def draws(behaviour: Behaviour, n: int) -> list[FailureKind | None]:
    async def run() -> list[FailureKind | None]:
        failures = [await behaviour.before_operation() for _ in range(n)]
        return [f.kind if f else None for f in failures]

    return asyncio.run(run())


def test_no_failure_switched_on_fails_nothing() -> None:
    assert draws(Behaviour(Switches()), 5) == [None] * 5


def test_a_counted_failure_hits_the_next_operations_then_stops() -> None:
    behaviour = Behaviour(Switches(failure=Failure(kind="timeout", count=2)))

    assert draws(behaviour, 4) == ["timeout", "timeout", None, None]
    assert behaviour.state().failing is False


def test_a_failure_rate_of_zero_never_fails_and_counts_nothing() -> None:
    behaviour = Behaviour(Switches(failure=Failure(kind="error_5xx", count=1, rate=0)))

    assert draws(behaviour, 20) == [None] * 20
    assert behaviour.state().failures_left == 1


def test_a_seeded_rate_draws_the_same_failures_again_after_reset() -> None:
    behaviour = Behaviour(Switches(failure=Failure(kind="error_5xx", rate=0.3), seed=5))

    first = draws(behaviour, 50)
    behaviour.reset()

    assert draws(behaviour, 50) == first
    assert 0 < first.count("error_5xx") < 50


def test_setting_the_switches_restarts_the_count() -> None:
    switches = Switches(failure=Failure(kind="error_5xx", count=1))
    behaviour = Behaviour(Switches())
    behaviour.set(switches)
    draws(behaviour, 1)

    behaviour.set(switches)

    assert behaviour.state().failures_left == 1


def test_the_environment_sets_the_starting_switches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PSP_LATENCY_MS", "7")
    monkeypatch.setenv("PSP_JITTER_MS", "0")
    monkeypatch.setenv("PSP_FAILURE", '{"kind": "error_5xx", "rate": 0.05}')
    monkeypatch.setenv("PSP_SEED", "42")

    switches = Settings().switches()

    assert switches == Switches(
        latency_ms=7, jitter_ms=0, failure=Failure(kind="error_5xx", rate=0.05), seed=42
    )


def test_a_bad_failure_in_the_environment_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PSP_FAILURE", '{"kind": "error_5xx", "rate": 2}')

    with pytest.raises(ValidationError, match="PSP_FAILURE"):
        Settings()


def test_the_access_log_is_off_unless_the_environment_asks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().access_log is False

    monkeypatch.setenv("PSP_ACCESS_LOG", "true")

    assert Settings().access_log is True
