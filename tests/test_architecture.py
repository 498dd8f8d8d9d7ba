"""Rules of the codebase that a reader should not have to police by eye."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVICE_PACKAGES = [
    ROOT / "billing-consumer" / "billing",
    ROOT / "order-consumer" / "orders",
    ROOT / "capture-consumer" / "capture",
    ROOT / "bff" / "bff",
]
FORBIDDEN_IN_DOMAIN = {"confluent_kafka", "fastavro", "sqlalchemy", "fastapi", "structlog", "httpx"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def domain_files() -> list[Path]:
    return [p for pkg in SERVICE_PACKAGES for p in sorted((pkg / "domain").rglob("*.py"))]


@pytest.mark.parametrize("path", domain_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_domain_code_imports_no_infrastructure(path: Path) -> None:
    assert not imported_roots(path) & FORBIDDEN_IN_DOMAIN


def test_every_consumer_service_has_the_same_shape() -> None:
    shape = {"domain", "adapters", "handlers.py", "bootstrap.py", "entrypoint.py", "settings.py"}
    for pkg in SERVICE_PACKAGES[:3]:
        assert shape <= {p.name for p in pkg.iterdir()}, pkg.name


# Not a service but a container's health check, run every few seconds: it reads its three port
# variables itself so that it starts in milliseconds and never fails on another setting.
READS_THE_ENVIRONMENT = {"paykit/paykit/probe.py"}


def test_the_environment_is_read_only_by_settings() -> None:
    offenders = []
    for pkg in [*SERVICE_PACKAGES, ROOT / "paykit" / "paykit", ROOT / "psp-sim" / "psp_sim"]:
        for path in pkg.rglob("*.py"):
            if "os.environ" in path.read_text() or "os.getenv" in path.read_text():
                offenders.append(str(path.relative_to(ROOT)))
    assert sorted(set(offenders) - READS_THE_ENVIRONMENT) == []
