"""capture-consumer wired to a fresh, migrated database of its own for each integration test."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from capture_fakes import FakeProvider

import capture
from capture.bootstrap import CaptureService, bootstrap
from capture.settings import Settings
from paykit.migrations import upgrade

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def settings(fresh_database: str) -> Settings:
    upgrade(capture.MIGRATIONS, fresh_database)
    return Settings(CAPTURE_DATABASE_URL=fresh_database)


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def service(settings: Settings, provider: FakeProvider) -> Iterator[CaptureService]:
    service = bootstrap(settings, provider=provider)
    yield service
    service.wiring.engine.dispose()
