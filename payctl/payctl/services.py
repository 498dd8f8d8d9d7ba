"""What the stack runs: the service processes, the databases they own, and the environment each
one is started with (the contract in CONTRIBUTING.md, "Environment")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Database:
    name: str
    package: str  # whose `MIGRATIONS` build its schema
    env_var: str  # where the owning service reads its URL, and where an operator may give it


DATABASES: tuple[Database, ...] = (
    Database("psp", "psp_sim", "PSP_DATABASE_URL"),
    Database("bff", "bff", "BFF_DATABASE_URL"),
    Database("billing", "billing", "BILLING_DATABASE_URL"),
    Database("orders", "orders", "ORDERS_DATABASE_URL"),
    Database("capture", "capture", "CAPTURE_DATABASE_URL"),
    Database("saas", "saas_demo", "SAAS_DATABASE_URL"),
)
DATABASE_NAMES = tuple(d.name for d in DATABASES)


def database_url_on(server_url: str, name: str) -> str:
    """The libpq URL of database `name` on the server `server_url` points at."""
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


# The variables that point payctl at servers of your own instead of the embedded ones.
SERVER_VARIABLES = frozenset(
    {"KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", *(d.env_var for d in DATABASES)}
)


@dataclass(frozen=True)
class Wiring:
    """Everything a service's environment is made of, for one stack."""

    bootstrap: str
    database_urls: Mapping[str, str]
    bff_port: int
    psp_port: int
    health_ports: Mapping[str, int]
    bff_auth_secret: str
    sso_signing_key: str
    bff_metrics_dir: str
    saas_port: int

    @property
    def bff_url(self) -> str:
        return f"http://{HOST}:{self.bff_port}"

    @property
    def psp_url(self) -> str:
        return f"http://{HOST}:{self.psp_port}"

    @property
    def saas_url(self) -> str:
        return f"http://{HOST}:{self.saas_port}"

    def url_of(self, service: str) -> str:
        """Where `service` serves HTTP: its API, or its health server; `/healthz` is under it."""
        if service == "bff":
            return self.bff_url
        if service == "psp-sim":
            return self.psp_url
        if service == "saas-demo":
            return self.saas_url
        return f"http://{HOST}:{self.health_ports[service]}"


@dataclass(frozen=True)
class Service:
    name: str
    module: str  # run as `python -m <module>`
    own_environment: Callable[[Wiring], dict[str, str]]


def consumer_instance_id(service: str, index: int) -> str:
    # Static group membership: each instance keeps its identity across restarts and takes its
    # partitions back at once. (The embedded broker never expires a SIGKILLed member, so a fresh
    # identity would wait for partitions forever.) Unique per running instance.
    return f"{service}-{index}"


def instance_name(service: str, index: int) -> str:
    """The process name of instance `index` of a consumer; instance 0 is the service itself."""
    return service if index == 0 else f"{service}-{index}"


def _consumer_instance(service: str, w: Wiring) -> dict[str, str]:
    return {
        "HEALTH_PORT": str(w.health_ports[service]),
        "CONSUMER_INSTANCE_ID": consumer_instance_id(service, 0),
    }


def _psp_sim(w: Wiring) -> dict[str, str]:
    return {
        "PSP_DATABASE_URL": w.database_urls["psp"],
        "PSP_HOST": HOST,
        "PSP_PORT": str(w.psp_port),
    }


# Server processes of the BFF: one per core of the small machine the stack is sized for. Its
# routes hold the interpreter lock while they work, so one process serves on one core only.
BFF_WORKERS = 2


def _bff(w: Wiring) -> dict[str, str]:
    return {
        "BFF_DATABASE_URL": w.database_urls["bff"],
        "BFF_HOST": HOST,
        "BFF_PORT": str(w.bff_port),
        "BFF_AUTH_SECRET": w.bff_auth_secret,
        "BFF_WORKERS": str(BFF_WORKERS),
        "PROMETHEUS_MULTIPROC_DIR": w.bff_metrics_dir,
        "SAAS_APP_URL": w.saas_url,
    }


def _bff_projector(w: Wiring) -> dict[str, str]:
    return {
        "BFF_DATABASE_URL": w.database_urls["bff"],
        **_consumer_instance("bff-projector", w),
    }


def _billing(w: Wiring) -> dict[str, str]:
    return {
        "BILLING_DATABASE_URL": w.database_urls["billing"],
        "PSP_URL": w.psp_url,
        **_consumer_instance("billing-consumer", w),
    }


def _orders(w: Wiring) -> dict[str, str]:
    return {
        "ORDERS_DATABASE_URL": w.database_urls["orders"],
        "SSO_SIGNING_KEY": w.sso_signing_key,
        "SAAS_APP_URL": w.saas_url,
        **_consumer_instance("order-consumer", w),
    }


def _capture(w: Wiring) -> dict[str, str]:
    return {
        "CAPTURE_DATABASE_URL": w.database_urls["capture"],
        "PSP_URL": w.psp_url,
        **_consumer_instance("capture-consumer", w),
    }


def _saas_demo(w: Wiring) -> dict[str, str]:
    return {
        "SAAS_DATABASE_URL": w.database_urls["saas"],
        "SAAS_HOST": HOST,
        "SAAS_PORT": str(w.saas_port),
        # Instance 0 of order-consumer serves the key set; every instance signs with the same key.
        "SSO_JWKS_URL": f"{w.url_of('order-consumer')}/.well-known/jwks.json",
    }


# Started all at once and waited for together; the order is the one payctl prints.
SERVICES: tuple[Service, ...] = (
    Service("psp-sim", "psp_sim", _psp_sim),
    Service("bff", "bff", _bff),
    Service("bff-projector", "bff.projector", _bff_projector),
    Service("billing-consumer", "billing", _billing),
    Service("order-consumer", "orders", _orders),
    Service("capture-consumer", "capture", _capture),
    Service("saas-demo", "saas_demo", _saas_demo),
)
SERVICE_NAMES = tuple(s.name for s in SERVICES)
SERVICE_BY_NAME: Mapping[str, Service] = {s.name: s for s in SERVICES}

# The processes that have no HTTP API of their own serve /healthz on a health port.
DEFAULT_HEALTH_PORTS: Mapping[str, int] = {
    "bff-projector": 9101,
    "billing-consumer": 9102,
    "order-consumer": 9103,
    "capture-consumer": 9104,
}
# The consumers of a group: more than one instance of each may run (`Stack.start_instance`).
CONSUMER_SERVICES = tuple(DEFAULT_HEALTH_PORTS)
