"""The BFF's app, projector and tokens over a fresh, migrated database for each integration
test."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest
from bff_support import SECRET, bearer
from fastapi.testclient import TestClient

import bff
from bff.main import create_app
from bff.projector.bootstrap import Projector, bootstrap
from bff.settings import ProjectorSettings, Settings

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path


@pytest.fixture
def bff_database(migrated_database: Callable[[Path], str]) -> str:
    return migrated_database(bff.MIGRATIONS)


@pytest.fixture
def settings(bff_database: str) -> Settings:
    return Settings(BFF_DATABASE_URL=bff_database, BFF_AUTH_SECRET=SECRET)


@pytest.fixture
def client_id() -> str:
    return f"client_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def app(settings: Settings) -> Iterator[TestClient]:
    """The API without credentials; `api` is the same app with a valid token."""
    # raise_server_exceptions=False: a 500 must be asserted as the JSON answer a client sees.
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def api(app: TestClient, client_id: str) -> TestClient:
    app.headers.update(bearer(client_id))
    return app


@pytest.fixture
def projector(bff_database: str) -> Iterator[Projector]:
    projector = bootstrap(ProjectorSettings(BFF_DATABASE_URL=bff_database))
    yield projector
    projector.wiring.engine.dispose()
