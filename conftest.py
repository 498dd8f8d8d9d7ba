"""Session fixtures every test level shares: the real PostgreSQL and Apache Kafka, started
fresh for this test session under its own temporary directory and stopped at the end. Set
KAFKA_BOOTSTRAP_SERVERS / TEST_DATABASE_URL to run against servers of your own.
"""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING

import psycopg
import pytest

# pytest's importlib mode names bff/tests/x.py `bff.tests.x`; with the real package imported
# first, it hangs the tests under it instead of putting a namespace package `bff` in its place.
import bff  # noqa: F401
from payctl.embedded import EmbeddedPostgres, free_port
from payctl.kafka_broker import EmbeddedBroker, find_install
from paykit.migrations import upgrade

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path


@pytest.fixture(scope="session")
def infra_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("infra")


@pytest.fixture(scope="session")
def postgres(infra_dir: Path) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(infra_dir / "pg")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def broker(infra_dir: Path) -> Iterator[str]:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        return
    embedded = EmbeddedBroker(
        find_install(os.environ), infra_dir / "kafka", free_port(), infra_dir / "broker.log"
    )
    embedded.start()
    yield embedded.bootstrap
    embedded.stop()


def _create_database(postgres: EmbeddedPostgres, template: str | None = None) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    copy_of = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(postgres.admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy_of}')
    return name


@pytest.fixture
def fresh_database(postgres: EmbeddedPostgres) -> str:
    """An empty database of its own for one test; returns its libpq URL."""
    return postgres.url(_create_database(postgres))


@pytest.fixture(scope="session")
def _migrated_templates() -> dict[Path, str]:
    return {}


@pytest.fixture
def migrated_database(
    postgres: EmbeddedPostgres, _migrated_templates: dict[Path, str]
) -> Callable[[Path], str]:
    """`migrated_database(MIGRATIONS)`: a database of its own for one test, at the head of those
    migrations; returns its libpq URL. Each is a copy (CREATE DATABASE … TEMPLATE) of one
    migrated once per session, a third of the time a migration takes. Tests of the migrations
    themselves start from `fresh_database`."""

    def migrated(migrations: Path) -> str:
        if migrations not in _migrated_templates:
            template = _create_database(postgres)
            upgrade(migrations, postgres.url(template))
            _migrated_templates[migrations] = template
        return postgres.url(_create_database(postgres, _migrated_templates[migrations]))

    return migrated
