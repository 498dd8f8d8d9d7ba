"""The whole embedded stack for the cross-service tests, started once per session under its own
temporary directory on free ports, with its databases on the session's PostgreSQL.

The stack has a broker of its own (unless KAFKA_BOOTSTRAP_SERVERS is set): service integration
tests publish on the same topic names on the session broker, and the stack's consumers must not
handle their events.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from payctl.embedded import free_ports
from payctl.services import DEFAULT_HEALTH_PORTS
from payctl.stack import Stack, StackConfig

if TYPE_CHECKING:
    from collections.abc import Iterator

    from payctl.embedded import EmbeddedPostgres


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, postgres: EmbeddedPostgres) -> Iterator[Stack]:
    bff, psp, kafka, *health = free_ports(3 + len(DEFAULT_HEALTH_PORTS))
    env = {
        **os.environ,
        "DATABASE_URL": postgres.admin_url,
        "PAYMENTS_ENV": "test",
        # 0-5 ms per provider call keeps the suite fast and still lets calls overlap.
        "PSP_LATENCY_MS": "2",
        "PSP_JITTER_MS": "3",
    }
    running = Stack(
        StackConfig(
            data_dir=tmp_path_factory.mktemp("stack"),
            bff_port=bff,
            psp_port=psp,
            kafka_port=kafka,
            health_ports=dict(zip(DEFAULT_HEALTH_PORTS, health, strict=True)),
            env=env,
        )
    )
    running.start()
    yield running
    running.stop()
