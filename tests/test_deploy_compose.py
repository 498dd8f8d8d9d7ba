"""docker-compose.yml, checked without Docker or a network: against the Compose Specification's
schema and against the code it runs (the commands, the settings each process reads, the ports,
the addresses, the dependencies). The image and its probe: test_deploy_image.py."""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click
import jsonschema
import pytest
import yaml
from pydantic import AliasChoices

from bff.settings import ProjectorSettings
from bff.settings import Settings as BffSettings
from billing.settings import Settings as BillingSettings
from capture.settings import Settings as CaptureSettings
from orders.settings import Settings as OrdersSettings
from payctl.cli import VERBS
from payctl.embedded import SERVER_SETTINGS
from payctl.services import (
    BFF_WORKERS,
    CONSUMER_SERVICES,
    DATABASES,
    DEFAULT_HEALTH_PORTS,
    SERVER_VARIABLES,
    SERVICES,
    database_url_on,
)
from payctl.stack import StackConfig
from paykit.probe import port_from
from paykit.settings import DEVELOPMENT_SECRET, RuntimeSettings
from psp_sim.settings import Settings as PspSettings
from saas_demo.settings import Settings as SaasSettings

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parent.parent
JOBS = ("migrate", "topics")
# The services with an HTTP API of their own serve /healthz there, not on a health port.
API_PORTS = {"bff": "BFF_PORT", "psp-sim": "PSP_PORT", "saas-demo": "SAAS_PORT"}
API_HOSTS = {"bff": "BFF_HOST", "psp-sim": "PSP_HOST", "saas-demo": "SAAS_HOST"}
APP_SERVICES = (*JOBS, *(s.name for s in SERVICES))
PROBE = ["CMD", "python", "-m", "paykit.probe"]
# Each service's module (payctl.services) and the settings its process reads.
SETTINGS_OF_MODULE: Mapping[str, type[BaseSettings]] = {
    "bff": BffSettings,
    "bff.projector": ProjectorSettings,
    "billing": BillingSettings,
    "orders": OrdersSettings,
    "capture": CaptureSettings,
    "psp_sim": PspSettings,
    "saas_demo": SaasSettings,
}
# The processes the README's configuration table means by each of its variables ("used by").
EVERY_PROCESS = APP_SERVICES
README_USED_BY: Mapping[str, tuple[str, ...]] = {
    "KAFKA_BOOTSTRAP_SERVERS": EVERY_PROCESS,
    "JAVA_HOME": (),  # payctl's embedded broker, which compose does not run
    "KAFKA_LIBS_DIR": (),
    "SCHEMA_REGISTRY_URL": EVERY_PROCESS,
    "DATABASE_URL": ("migrate",),
    "BFF_DATABASE_URL": ("bff", "bff-projector"),
    "BILLING_DATABASE_URL": ("billing-consumer",),
    "ORDERS_DATABASE_URL": ("order-consumer",),
    "CAPTURE_DATABASE_URL": ("capture-consumer",),
    "PSP_DATABASE_URL": ("psp-sim",),
    "BFF_HOST": ("bff",),
    "BFF_PORT": ("bff",),
    "BFF_WORKERS": ("bff",),
    "BFF_AUTH_SECRET": ("bff",),
    "BFF_PUBLIC_URL": ("bff",),
    "SSO_SIGNING_KEY": ("order-consumer",),
    "SSO_AUDIENCE": ("order-consumer", "saas-demo"),
    "SAAS_APP_URL": ("bff", "order-consumer"),
    "SAAS_DATABASE_URL": ("saas-demo",),
    "SSO_JWKS_URL": ("saas-demo",),
    "SAAS_PORT": ("saas-demo",),
    "ORDERS_BLOCKED_CUSTOMERS": ("order-consumer",),
    "PSP_URL": ("billing-consumer", "capture-consumer"),
    "PSP_LATENCY_MS": ("psp-sim",),
    "PSP_JITTER_MS": ("psp-sim",),
    "PAYMENTS_ENV": EVERY_PROCESS,
    "LOG_LEVEL": EVERY_PROCESS,
    "LOG_FORMAT": EVERY_PROCESS,
}
# Left to the process's default on purpose, and why.
LEFT_UNSET: Mapping[tuple[str, str], str] = {
    ("psp-sim", "KAFKA_BOOTSTRAP_SERVERS"): "the provider never talks to Kafka",
    ("psp-sim", "SCHEMA_REGISTRY_URL"): "nor encodes events",
    ("saas-demo", "KAFKA_BOOTSTRAP_SERVERS"): "the SaaS app never talks to Kafka",
    ("saas-demo", "SCHEMA_REGISTRY_URL"): "nor decodes events",
    ("bff", "KAFKA_BOOTSTRAP_SERVERS"): "the API writes its outbox; the projector publishes it",
    ("migrate", "KAFKA_BOOTSTRAP_SERVERS"): "databases only",
    ("migrate", "SCHEMA_REGISTRY_URL"): "databases only",
    ("topics", "SCHEMA_REGISTRY_URL"): "subjects are registered by the services on first use",
}
_VARIABLE = re.compile(r"\$(?:\$|\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})")


class MissingVariable(Exception):
    pass


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose's interpolation: ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error},
    ${NAME?error} and $$."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m["name"], m["op"], m["arg"]
        found = env.get(name)
        if op in (":?", "?") and (found is None or (op == ":?" and not found)):
            raise MissingVariable(f"{name}: {arg}")
        if op == ":-" and not found or op == "-" and found is None:
            return str(arg)
        return found or ""

    return _VARIABLE.sub(one, value)


def read_env_file(path: Path) -> dict[str, str]:
    lines = [line.strip() for line in path.read_text().splitlines()]
    pairs = [line.partition("=") for line in lines if line and not line.startswith("#")]
    return {name: value for name, _, value in pairs}


@cache
def compose_text() -> str:
    return (ROOT / "docker-compose.yml").read_text()


@cache
def required_variables() -> frozenset[str]:
    lines = [line for line in compose_text().splitlines() if not line.lstrip().startswith("#")]
    return frozenset(re.findall(r"\$\{(\w+):\?", "\n".join(lines)))


@cache
def compose() -> dict[str, Any]:
    """The file as compose sees it with .env.example and its empty secrets filled in."""
    env = read_env_file(ROOT / ".env.example")
    env.update({name: "x" * 40 for name in required_variables()})
    document: dict[str, Any] = interpolate(yaml.safe_load(compose_text()), env)
    return document


def service(name: str) -> dict[str, Any]:
    found: dict[str, Any] = compose()["services"][name]
    return found


def environment(name: str) -> dict[str, str]:
    return {k: str(v) for k, v in service(name).get("environment", {}).items()}


def aliases(settings: type[BaseSettings]) -> set[str]:
    names: set[str] = set()
    for field in settings.model_fields.values():
        alias = field.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
        names.update(c.upper() for c in choices if isinstance(c, str))
    return names


def variables_read_by(name: str) -> set[str]:
    command = service(name)["command"]
    if command[0] == "payctl":  # the jobs: logging's settings and the servers' variables
        return aliases(RuntimeSettings) | SERVER_VARIABLES
    assert command[:2] == ["python", "-m"], command
    return aliases(SETTINGS_OF_MODULE[command[2]])


def served_port(name: str) -> int:
    """The port the process serves /healthz on, from its own settings' variable."""
    variable = {"bff": "BFF_PORT", "psp-sim": "PSP_PORT", "saas-demo": "SAAS_PORT"}.get(
        name, "HEALTH_PORT"
    )
    return int(environment(name)[variable])


# -- the file itself -------------------------------------------------------------------------


def test_compose_file_follows_the_compose_specification() -> None:
    schema_file = files("check_jsonschema") / "builtin_schemas/vendor/compose-spec.json"
    schema = json.loads(schema_file.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose())]
    assert errors == []


def test_secrets_come_only_from_the_environment() -> None:
    assert {"BFF_AUTH_SECRET", "SSO_SIGNING_KEY", "POSTGRES_PASSWORD"} <= required_variables()
    example = read_env_file(ROOT / ".env.example")
    assert {name: example.get(name) for name in required_variables()} == dict.fromkeys(
        required_variables(), ""
    )
    with pytest.raises(MissingVariable):
        interpolate(yaml.safe_load(compose_text()), example)
    assert DEVELOPMENT_SECRET not in compose_text() + (ROOT / ".env.example").read_text()


# -- the processes ---------------------------------------------------------------------------


def test_each_service_runs_the_module_payctl_runs_it_as() -> None:
    for s in SERVICES:
        assert service(s.name)["command"] == ["python", "-m", s.module]
    assert set(SETTINGS_OF_MODULE) == {s.module for s in SERVICES}
    assert [service(job)["command"][:2] for job in JOBS] == [["payctl", job] for job in JOBS]


def test_every_command_names_a_module_or_verb_that_exists() -> None:
    for name in APP_SERVICES:
        command = service(name)["command"]
        if command[0] == "payctl":
            module, _, attr = VERBS[command[1]].partition(":")
            verb = getattr(importlib.import_module(module), attr)
            assert isinstance(verb, click.Command)
            verb.make_context(command[1], command[2:])  # its options parse
            continue
        spec = importlib.util.find_spec(command[2])
        assert spec is not None, command
        if spec.submodule_search_locations is not None:  # a package runs its __main__
            assert importlib.util.find_spec(f"{command[2]}.__main__") is not None, command


def test_every_variable_a_service_gets_is_one_its_process_reads() -> None:
    for name in APP_SERVICES:
        unread = set(environment(name)) - variables_read_by(name)
        assert unread == set(), name


def test_every_setting_the_readme_lists_is_set_or_deliberately_left() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.partition("## Configuration")[2].partition("\n## ")[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    listed = {v for row in rows for v in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}
    assert listed == set(README_USED_BY)
    for variable, processes in README_USED_BY.items():
        for name in processes:
            if (name, variable) in LEFT_UNSET:
                assert variable not in environment(name), (name, variable)
            else:
                assert variable in environment(name), (name, variable)
                assert variable in variables_read_by(name), (name, variable)


# -- addresses and ports ---------------------------------------------------------------------


def test_each_healthcheck_probes_the_port_its_process_serves_on_every_interface() -> None:
    for s in SERVICES:
        env = environment(s.name)
        assert service(s.name)["healthcheck"]["test"] == PROBE, s.name
        assert port_from(env) == served_port(s.name), s.name
        host = {"bff": "BFF_HOST", "psp-sim": "PSP_HOST", "saas-demo": "SAAS_HOST"}.get(
            s.name, "HEALTH_HOST"
        )
        assert env[host] == "0.0.0.0", s.name
    for name in CONSUMER_SERVICES:  # where deploy/prometheus scrapes them, as payctl runs them
        assert served_port(name) == DEFAULT_HEALTH_PORTS[name]


def test_only_what_a_browser_or_the_walkthrough_reaches_publishes_ports_on_this_host() -> None:
    published = {s.name: service(s.name).get("ports", []) for s in SERVICES}
    assert {k for k, v in published.items() if v} == {"bff", "psp-sim", "saas-demo"}
    assert published["bff"] == ["127.0.0.1:8000:8000"]
    for name in ("bff", "psp-sim", "saas-demo"):
        [mapping] = published[name]
        host_ip, _, container_port = mapping.split(":")
        assert (host_ip, int(container_port)) == ("127.0.0.1", served_port(name))


def test_the_services_reach_each_other_by_their_compose_names() -> None:
    advertised = environment("kafka")["KAFKA_ADVERTISED_LISTENERS"].partition("://")[2]
    registry_port = urlsplit(environment("schema-registry")["SCHEMA_REGISTRY_LISTENERS"]).port
    for name in APP_SERVICES:
        env = environment(name)
        if "KAFKA_BOOTSTRAP_SERVERS" in env:
            assert env["KAFKA_BOOTSTRAP_SERVERS"] == advertised, name
        if "SCHEMA_REGISTRY_URL" in env:
            assert env["SCHEMA_REGISTRY_URL"] == f"http://schema-registry:{registry_port}", name
        if "PSP_URL" in env:
            assert env["PSP_URL"] == f"http://psp-sim:{served_port('psp-sim')}", name
    server = environment("migrate")["DATABASE_URL"]
    for db in DATABASES:
        users = [s.name for s in SERVICES if db.env_var in environment(s.name)]
        assert users, db.env_var
        for name in users:  # the database migrate creates on its server, by name
            assert environment(name)[db.env_var] == database_url_on(server, db.name), name


def test_consumers_scale_with_no_fixed_name_or_port() -> None:
    for name in CONSUMER_SERVICES:
        for fixed in ("ports", "container_name", "hostname"):
            assert fixed not in service(name), (name, fixed)
        assert "CONSUMER_INSTANCE_ID" not in environment(name)
    assert not [n for n, s in compose()["services"].items() if "container_name" in s]


# -- order and infrastructure ----------------------------------------------------------------


def conditions(name: str) -> dict[str, str]:
    return {k: v["condition"] for k, v in service(name).get("depends_on", {}).items()}


def test_services_start_after_the_servers_are_healthy_and_the_jobs_succeeded() -> None:
    healthy, done = "service_healthy", "service_completed_successfully"
    setup = {"kafka": healthy, "postgres": healthy, "schema-registry": healthy}
    setup |= {"migrate": done, "topics": done}
    for name in ("bff", "bff-projector", "order-consumer"):
        assert conditions(name) == setup, name
    for name in ("billing-consumer", "capture-consumer"):
        assert conditions(name) == {**setup, "psp-sim": healthy}, name
    assert conditions("psp-sim") == {"postgres": healthy, "migrate": done}
    assert conditions("migrate") == {"postgres": healthy}
    assert conditions("topics") == {"kafka": healthy}
    assert conditions("schema-registry") == {"kafka": healthy}
    for job in JOBS:
        assert service(job)["restart"] == "no"
    for name in ("kafka", "postgres", "schema-registry"):
        assert service(name)["healthcheck"]["test"][0] == "CMD", name


def test_servers_are_pinned_and_keep_their_data_in_named_volumes() -> None:
    pom = (ROOT / "kafka/pom.xml").read_text()
    [kafka_version] = re.findall(r"<kafka.version>(.+)</kafka.version>", pom)
    assert service("kafka")["image"] == f"apache/kafka:{kafka_version}"
    assert service("postgres")["image"] == "postgres:17"
    registry = service("schema-registry")["image"]
    assert re.fullmatch(r"confluentinc/cp-schema-registry:\d+\.\d+\.\d+", registry)
    for name, path in (("kafka", "/var/lib/kafka/data"), ("postgres", "/var/lib/postgresql/data")):
        [volume] = service(name)["volumes"]
        source, _, target = volume.partition(":")
        assert target == path, name
        assert source in compose()["volumes"], name
    assert service("kafka")["healthcheck"]["test"][1].startswith("/opt/kafka/bin/kafka-")
    max_connections = f"max_connections={SERVER_SETTINGS['max_connections']}"
    assert max_connections in service("postgres")["command"]


def test_defaults_are_those_of_payctl_up() -> None:
    command = service("topics")["command"]
    assert int(command[command.index("--partitions") + 1]) == StackConfig(ROOT).partitions
    assert int(environment("bff")["BFF_WORKERS"]) == BFF_WORKERS
