"""The whole embedded stack for the cross-service tests, started once per session under its own
temporary directory on free ports, with its databases on the session's PostgreSQL.

The stack has a broker of its own (unless KAFKA_BOOTSTRAP_SERVERS is set): service integration
tests publish on the same topic names on the session broker, and the stack's consumers must not
handle their events.

Failure tests, which kill processes and stop the broker or PostgreSQL, get `own_stack` instead:
a stack per module with its own data dir, PostgreSQL and broker, so nothing they break reaches
another test.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

# The browser tests' fixtures: a real Chromium (tests/browser_support.py).
from browser_support import browser, page  # noqa: F401

from payctl.services import SERVER_VARIABLES
from payctl.stack import Stack, StackConfig
from payctl.stack_cli import FAST_PROVIDER

if TYPE_CHECKING:
    from collections.abc import Iterator

    from payctl.embedded import EmbeddedPostgres


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Chaos tests run first. Each starts a stack of its own, and an idle stack still keeps
    most of a core busy (its consumers' polls between rests, relays, lanes), so on a small
    machine the chaos stacks must not share it with the session stack, which the first e2e test
    starts and which idles until the session ends."""
    items.sort(key=lambda item: item.get_closest_marker("chaos") is None)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, postgres: EmbeddedPostgres) -> Iterator[Stack]:
    env = {
        **os.environ,
        "DATABASE_URL": postgres.admin_url,
        "PAYMENTS_ENV": "test",
        **FAST_PROVIDER,
    }
    running = Stack(StackConfig.on_free_ports(tmp_path_factory.mktemp("stack"), env))
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def own_stack_env() -> dict[str, str]:
    """Extra variables for the module's `own_stack`; a module overrides this fixture."""
    return {}


@pytest.fixture(scope="module")
def own_stack(
    tmp_path_factory: pytest.TempPathFactory, own_stack_env: dict[str, str]
) -> Iterator[Stack]:
    """A fresh stack for one module: its own data dir, embedded PostgreSQL (fresh databases) and
    embedded broker. Its logs are in `<data dir>/logs`."""
    # It stops the embedded servers: servers named by the environment must not stand in for them.
    env = {k: v for k, v in os.environ.items() if k not in SERVER_VARIABLES}
    env.update({"PAYMENTS_ENV": "test", **FAST_PROVIDER, **own_stack_env})
    running = Stack(StackConfig.on_free_ports(tmp_path_factory.mktemp("own-stack"), env))
    running.start()
    yield running
    running.stop()
