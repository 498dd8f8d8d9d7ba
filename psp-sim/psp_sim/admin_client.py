"""A typed client of psp-sim's admin API, for tests and tools that make a running simulator slow
or failing: `set_behaviour(url, failure=Failure(kind="error_5xx", count=2))`, then `reset(url)`.
"""

from __future__ import annotations

from typing import Any

import httpx

from psp_sim.behaviour import BehaviourState, Failure, Switches

# Generous: the admin API is never slowed by the switches, but the simulator may be busy.
TIMEOUT_SECONDS = 10.0


def behaviour(base_url: str) -> BehaviourState:
    return _call("GET", base_url)


def set_behaviour(
    base_url: str,
    *,
    latency_ms: int = 0,
    jitter_ms: int = 0,
    failure: Failure | None = None,
    seed: int | None = None,
) -> BehaviourState:
    """Replaces every switch: the ones not given are off (no latency, no failure)."""
    switches = Switches(latency_ms=latency_ms, jitter_ms=jitter_ms, failure=failure, seed=seed)
    return _call("PUT", base_url, json=switches.model_dump(mode="json"))


def reset(base_url: str) -> BehaviourState:
    """Back to the switches the simulator started with (its settings)."""
    return _call("DELETE", base_url)


def _call(method: str, base_url: str, **kwargs: Any) -> BehaviourState:
    response = httpx.request(
        method, f"{base_url}/admin/behaviour", timeout=TIMEOUT_SECONDS, **kwargs
    )
    response.raise_for_status()
    return BehaviourState.model_validate(response.json())
