"""The API's request metrics: counted by route template and status class, timed in the buckets
the dashboard reads, the scrapes and probes left out."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest
from bff_support import new_key, new_payment
from prometheus_client.parser import text_string_to_metric_families

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration


def scrape(api: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = api.get("/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        if family.name.startswith("http_")
        for sample in family.samples
    }


def requests(handler: str, method: str, status: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    labels = {"handler": handler, "method": method, "status": status}
    return "http_requests_total", tuple(sorted(labels.items()))


def test_requests_are_counted_by_route_template_and_status_class(api: TestClient) -> None:
    before = scrape(api)

    assert api.post("/v1/payments", json=new_payment(), headers=new_key()).status_code == 202
    assert api.post("/v1/payments", json={}, headers=new_key()).status_code == 422
    assert api.get(f"/v1/payments/{uuid.uuid4()}").status_code == 404
    assert api.get(f"/no/such/{uuid.uuid4()}").status_code == 404
    api.get("/healthz")
    api.get("/livez")
    after = scrape(api)

    def counted(key: tuple[str, tuple[tuple[str, str], ...]]) -> float:
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert counted(requests("/v1/payments", "POST", "2xx")) == 1
    assert counted(requests("/v1/payments", "POST", "4xx")) == 1
    assert counted(requests("/v1/payments/{payment_id}", "GET", "4xx")) == 1
    # A path no route matches is one label value, whatever the path.
    assert counted(requests("none", "GET", "4xx")) == 1
    handlers = {dict(labels).get("handler") for _, labels in after}
    assert not handlers & {"/metrics", "/healthz", "/livez"}


def test_latency_is_kept_per_route_and_in_fine_buckets_overall(api: TestClient) -> None:
    before = scrape(api)
    api.post("/v1/payments", json=new_payment(), headers=new_key())
    after = scrape(api)

    per_route = (
        "http_request_duration_seconds_count",
        (("handler", "/v1/payments"), ("method", "POST")),
    )
    assert after[per_route] - before.get(per_route, 0.0) == 1
    assert after[("http_request_duration_highr_seconds_count", ())] > before.get(
        ("http_request_duration_highr_seconds_count", ()), 0.0
    )
    buckets = {
        dict(labels)["le"]
        for name, labels in after
        if name == "http_request_duration_seconds_bucket"
    }
    assert buckets == {"0.1", "0.5", "1.0", "+Inf"}


def test_only_what_the_dashboard_and_alerts_read_is_kept(api: TestClient) -> None:
    api.post("/v1/payments", json=new_payment(), headers=new_key())

    text = api.get("/metrics").text
    families = {
        f.name
        for f in text_string_to_metric_families(text)
        # `_created`: the time each series began, which prometheus_client shows beside it.
        if f.name.startswith("http_") and not f.name.endswith("_created")
    }

    # No request or response size summaries: nothing read them, and each cost every request.
    assert families == {
        "http_requests",
        "http_request_duration_seconds",
        "http_request_duration_highr_seconds",
    }
