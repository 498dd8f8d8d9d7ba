"""Fixtures of the runtime's integration tests: a database with the messaging tables and the test
effects table, and a fresh topic (with its dead-letter topic) of three partitions."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest
from batch_support import batch_metadata
from runtime_support import LANES, test_metadata

from paykit.db import make_engine, messaging_metadata
from paykit.kafka import ensure_topics

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy import Engine


@pytest.fixture
def engine(fresh_database: str) -> Iterator[Engine]:
    # Sized as `paykit.service.wire` sizes it: a connection per lane and a few for the rest.
    engine = make_engine(fresh_database, pool_size=LANES + 4)
    messaging_metadata.create_all(engine)
    test_metadata.create_all(engine)
    batch_metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def topic(broker: str) -> str:
    name = f"t-{uuid.uuid4().hex[:10]}"
    ensure_topics(broker, [name, f"{name}.dlq"], partitions=3)
    return name
