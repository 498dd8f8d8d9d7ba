"""The demo SaaS app over a fresh, migrated database, verifying tokens against a real JWKS
served by order-consumer's own key-set route on a real HTTP server."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

from orders.adapters.sso import JWKS_PATH, JwksApi, JwtSsoIssuer, signing_key
from paykit.health import HealthServer
from saas_demo import MIGRATIONS
from saas_demo.app import create_app
from saas_demo.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

APP_URL = "http://saas.test"


@pytest.fixture(scope="session")
def order_key() -> Ed25519PrivateKey:
    return signing_key(None)


@pytest.fixture(scope="session")
def jwks_url(order_key: Ed25519PrivateKey) -> Iterator[str]:
    server = HealthServer("127.0.0.1", 0, {}, routes={JWKS_PATH: JwksApi(order_key)})
    server.start()
    yield f"http://127.0.0.1:{server.port}{JWKS_PATH}"
    server.stop()


@pytest.fixture
def issuer(order_key: Ed25519PrivateKey) -> JwtSsoIssuer:
    """order-consumer's own issuer, with the key the JWKS publishes."""
    return JwtSsoIssuer(order_key, "saas-app", APP_URL)


@pytest.fixture
def settings(migrated_database: Callable[[Path], str], jwks_url: str) -> Settings:
    return Settings(SAAS_DATABASE_URL=migrated_database(MIGRATIONS), SSO_JWKS_URL=jwks_url)


@pytest.fixture
def browser(settings: Settings) -> Iterator[TestClient]:
    """The app as a browser meets it: cookies kept, redirects not followed."""
    with TestClient(create_app(settings), base_url=APP_URL, follow_redirects=False) as client:
        yield client
