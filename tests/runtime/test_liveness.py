"""Liveness is not readiness: `/livez` asks only whether the service's own threads are cycling,
`/healthz` asks every dependency too. An orchestrator restarts on the first and stops routing on
the second, so a consumer waiting out a database outage must pass the first and fail the second.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from paykit.health import HealthServer
from paykit.service import LIVENESS_WINDOW_SECONDS, liveness_checks

if TYPE_CHECKING:
    from collections.abc import Iterator

    from paykit.health import Check


@dataclass
class Cycling:
    """Stands in for the loop, the relay and the retry worker: the time of its last sign of life
    (`last_cycle`) and `is_alive(within)` on it, as the real ones have."""

    last_cycle: float = field(default_factory=time.monotonic)

    def is_alive(self, within: float = 60.0) -> bool:
        return time.monotonic() - self.last_cycle < within


def stuck() -> Cycling:
    return Cycling(time.monotonic() - LIVENESS_WINDOW_SECONDS - 1)


def database_down() -> None:
    raise ConnectionRefusedError("connection to 127.0.0.1:5432 refused")


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[HealthServer] = []

    def start(checks: dict[str, Check], liveness: dict[str, Check] | None) -> httpx.Client:
        server = HealthServer("127.0.0.1", 0, checks, liveness=liveness)
        server.start()
        servers.append(server)
        return httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=5)

    yield start
    for server in servers:
        server.stop()


def test_a_consumer_whose_database_is_down_is_not_ready_but_alive(serve: Any) -> None:
    liveness = liveness_checks(Cycling(), Cycling(), Cycling())
    http = serve({"database": database_down, **liveness}, liveness)

    ready = http.get("/healthz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"].startswith("ConnectionRefusedError")

    alive = http.get("/livez")
    assert alive.status_code == 200, alive.text
    assert alive.json() == {
        "status": "ok",
        "checks": {"consumer": "ok", "relay": "ok", "retry_worker": "ok"},
    }


@pytest.mark.parametrize("part", ["consumer", "relay", "retry_worker"])
def test_a_stuck_thread_of_the_service_answers_503_on_livez(serve: Any, part: str) -> None:
    parts = {"consumer": Cycling(), "relay": Cycling(), "retry_worker": Cycling()}
    parts[part] = stuck()
    liveness = liveness_checks(parts["consumer"], parts["relay"], parts["retry_worker"])
    http = serve({}, liveness)

    answer = http.get("/livez")
    assert answer.status_code == 503
    checks = answer.json()["checks"]
    assert checks[part].startswith("RuntimeError")
    assert {name for name, result in checks.items() if result == "ok"} == set(parts) - {part}


def test_livez_without_checks_says_the_server_answers(serve: Any) -> None:
    http = serve({"database": database_down}, None)

    assert http.get("/livez").json() == {"status": "ok", "checks": {}}
    assert http.get("/healthz").status_code == 503
    assert http.get("/nowhere").status_code == 404


def test_readiness_is_exported_for_alerts_as_it_is_at_each_scrape(serve: Any) -> None:
    down = {"yes": True}

    def database() -> None:
        if down["yes"]:
            database_down()

    http = serve({"database": database}, None)
    assert "payments_ready 0.0" in http.get("/metrics").text
    down["yes"] = False
    assert "payments_ready 1.0" in http.get("/metrics").text
