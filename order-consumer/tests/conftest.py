"""order-consumer wired to a fresh, migrated database of its own for each integration test."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from orders_random_events import SIGNING_KEY

import orders
from orders.bootstrap import Orders, bootstrap
from orders.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path


@pytest.fixture
def settings(migrated_database: Callable[[Path], str]) -> Settings:
    return Settings(
        ORDERS_DATABASE_URL=migrated_database(orders.MIGRATIONS),
        SSO_SIGNING_KEY=SIGNING_KEY,
        ORDERS_BLOCKED_CUSTOMERS="cus_blocked",
    )


@pytest.fixture
def service(settings: Settings) -> Iterator[Orders]:
    service = bootstrap(settings)
    yield service
    service.wiring.engine.dispose()
