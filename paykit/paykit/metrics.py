"""Prometheus metrics of the runtime: what ops watch for lag, backlog, dead letters and latency."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter(
    "payments_messages_total",
    "Messages handled, by outcome (handled, duplicate, parked, dead_lettered, skipped; "
    "retry_* for tries from the retry schedule).",
    ["topic", "outcome"],
)
HANDLER_SECONDS = Histogram(
    "payments_handler_seconds",
    "Time to handle one message, database commit included.",
    ["topic"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BATCH_SIZE = Histogram(
    "payments_batch_messages",
    "Messages taken together in one batch (paykit.batches).",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
RETRIES = Counter(
    "payments_transient_retries_total",
    "Messages retried in place after an infrastructure error (database, broker).",
    ["topic"],
)
RETRY_SCHEDULE = Gauge(
    "payments_retry_schedule_size", "Messages parked on the durable retry schedule."
)
GIVE_UPS = Counter(
    "payments_retry_give_ups_total",
    "Messages whose retries were used up: terminal state recorded, then dead-lettered.",
    ["topic"],
)
DEAD_LETTERS = Counter(
    "payments_dead_letters_total", "Messages sent to a dead-letter topic.", ["topic", "code"]
)
OUTBOX_PUBLISHED = Counter("payments_outbox_published_total", "Outbox rows published.", ["topic"])
OUTBOX_BACKLOG = Gauge("payments_outbox_backlog", "Outbox rows not yet published.")
# What /healthz says, for alerting on a service that is up but not ready (Prometheus scrapes
# /metrics, not /healthz). With several BFF workers the least ready one counts.
READY = Gauge(
    "payments_ready",
    "1 while every readiness check of /healthz passes, 0 while one fails: checked at each "
    "scrape by the consumers and the projector, at each /healthz by the BFF.",
    multiprocess_mode="livemin",
)
CONSUMER_LAG = Gauge(
    "payments_consumer_lag", "Messages behind the high watermark.", ["topic", "partition"]
)
PROVIDER_REQUESTS = Counter(
    "payments_provider_requests_total",
    "Calls to the payment provider, by operation and outcome: ok (an answer, a decline "
    "included), rejected (refused for good), unavailable (not performed: it could not be asked "
    "or said to call later), unknown (it may have acted: cut off after sending, a 5xx, an "
    "unreadable answer).",
    ["operation", "outcome"],
)
