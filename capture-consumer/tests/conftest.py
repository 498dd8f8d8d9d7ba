"""capture-consumer wired to a fresh, migrated database of its own for each integration test."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from capture_fakes import FakeProvider

import capture
from capture.bootstrap import CaptureService, bootstrap
from capture.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path


@pytest.fixture
def settings(migrated_database: Callable[[Path], str]) -> Settings:
    return Settings(CAPTURE_DATABASE_URL=migrated_database(capture.MIGRATIONS))


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def service(settings: Settings, provider: FakeProvider) -> Iterator[CaptureService]:
    service = bootstrap(settings, provider=provider)
    yield service
    service.wiring.engine.dispose()
