"""A consumer service process whose database is down, on the real broker: a lane holds a payment
and retries it in place, `/healthz` is 503 with the database check failing (not ready) and
`/livez` is 200 (alive), so Kubernetes stops counting the pod as ready without restarting it.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from typing import TYPE_CHECKING

import httpx
import pytest
from bff_processes import produce, spawn, start_group_at_the_end
from prometheus_client.parser import text_string_to_metric_families
from runtime_support import initiated

from payctl.embedded import free_port, wait_for
from paykit.kafka import ensure_topics
from payment_events.catalog import all_topic_names, topic_for, topics_consumed_by
from payment_events.events import PaymentInitiated

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.integration

SERVICE = "billing-consumer"


def retried_in_place(url: str) -> float:
    """payments_transient_retries_total: tries of a message again after an infrastructure error."""
    text = httpx.get(f"{url}/metrics", timeout=5, trust_env=False).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "payments_transient_retries"
        for sample in family.samples
        if sample.name.endswith("_total")
    )


def test_a_consumer_waiting_out_a_database_outage_is_alive_but_not_ready(
    broker: str, tmp_path: Path
) -> None:
    ensure_topics(broker, all_topic_names(), partitions=3)
    group = f"{SERVICE}-{uuid.uuid4().hex[:8]}"
    start_group_at_the_end(broker, group, topics_consumed_by(SERVICE))
    health_port = free_port()
    url = f"http://127.0.0.1:{health_port}"
    env = os.environ | {
        # Nothing listens on a port just found free: the database refuses every connection.
        "BILLING_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/billing",
        "KAFKA_BOOTSTRAP_SERVERS": broker,
        "CONSUMER_GROUP": group,
        "HEALTH_PORT": str(health_port),
        "PAYMENTS_ENV": "test",
        "LOG_FORMAT": "json",
    }
    log = tmp_path / "billing.log"
    process = spawn("billing", env, log)
    try:
        wait_for(
            lambda: httpx.get(f"{url}/livez", timeout=2).status_code == 200,
            60,
            f"billing serving /livez (log: {log})",
        )
        assert topic_for(PaymentInitiated).name in topics_consumed_by(SERVICE)
        produce(broker, initiated())
        wait_for(lambda: retried_in_place(url) >= 2, 60, f"a lane retrying (log: {log})")

        ready = httpx.get(f"{url}/healthz", timeout=10)
        assert ready.status_code == 503, ready.text
        assert ready.json()["checks"]["database"] != "ok"

        alive = httpx.get(f"{url}/livez", timeout=10)
        assert alive.status_code == 200, alive.text
        assert alive.json()["checks"] == {"consumer": "ok", "relay": "ok", "retry_worker": "ok"}
        assert process.poll() is None, f"billing exited (log: {log})"
    finally:
        process.terminate()
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
