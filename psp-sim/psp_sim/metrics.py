"""psp-sim's Prometheus metrics."""

from __future__ import annotations

from prometheus_client import Counter

OPERATIONS = Counter(
    "psp_operations_total",
    "Requests that ran an operation, by kind and outcome (authorized, declined, succeeded, or "
    "the error code it was refused with).",
    ["kind", "outcome"],
)
REPLAYS = Counter(
    "psp_idempotent_replays_total", "Requests answered from a stored response.", ["kind"]
)
FAILURES_INJECTED = Counter(
    "psp_injected_failures_total",
    "Operations answered with a failure the behaviour switches injected, by kind and failure.",
    ["kind", "failure"],
)
