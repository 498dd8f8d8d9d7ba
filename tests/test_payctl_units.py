"""payctl without servers: tokens, database URLs, and the refusals that come before anything
starts."""

from __future__ import annotations

import dataclasses
import socket
from typing import TYPE_CHECKING, Any

import jwt
import pytest
from click.testing import CliRunner

from bff.auth import verify_token
from payctl.cli import main
from payctl.databases import database_url_on
from payctl.embedded import free_ports
from payctl.errors import StackError
from payctl.services import DEFAULT_HEALTH_PORTS
from payctl.stack import Stack, StackConfig
from paykit.settings import DEVELOPMENT_SECRET

if TYPE_CHECKING:
    from pathlib import Path


def test_token_prints_a_jwt_the_bff_accepts() -> None:
    result = CliRunner().invoke(main, ["token", "--subject", "shop-frontend", "--ttl", "120"])

    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert verify_token(DEVELOPMENT_SECRET, token) == "shop-frontend"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 120


def test_token_is_signed_with_bff_auth_secret_when_it_is_set() -> None:
    secret = "a-secret-of-our-own-that-is-long-enough"
    result = CliRunner().invoke(main, ["token"], env={"BFF_AUTH_SECRET": secret})

    assert result.exit_code == 0, result.output
    assert verify_token(secret, result.output.strip()) == "developer"


@pytest.mark.parametrize(
    ("server", "database"),
    [
        (
            "postgresql://postgres:@/postgres?host=/tmp/pg",
            "postgresql://postgres:@/billing?host=/tmp/pg",
        ),
        (
            "postgresql://pay:s3cret@db.internal:5432/postgres?sslmode=require",
            "postgresql://pay:s3cret@db.internal:5432/billing?sslmode=require",
        ),
        ("postgresql://db.internal", "postgresql://db.internal/billing"),
    ],
)
def test_a_database_url_is_the_server_url_naming_the_database(server: str, database: str) -> None:
    assert database_url_on(server, "billing") == database


def stack_in(data_dir: Path, **overrides: Any) -> Stack:
    bff, psp, kafka, *health = free_ports(3 + len(DEFAULT_HEALTH_PORTS))
    config = StackConfig(
        data_dir=data_dir,
        bff_port=bff,
        psp_port=psp,
        kafka_port=kafka,
        health_ports=dict(zip(DEFAULT_HEALTH_PORTS, health, strict=True)),
        env={},
    )
    return Stack(dataclasses.replace(config, **overrides))


def test_fresh_refuses_to_wipe_a_directory_payctl_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "thesis.tex").write_text("years of work")

    with pytest.raises(StackError, match="refusing to wipe"):
        stack_in(tmp_path, fresh=True).start()

    assert (tmp_path / "thesis.tex").read_text() == "years of work"


def test_a_port_in_use_is_named_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        with pytest.raises(StackError, match=f"port {port} for bff is in use"):
            stack_in(tmp_path / "data", bff_port=port).start()

    assert not (tmp_path / "data" / "postgres").exists()
    assert not (tmp_path / "data" / "kafka").exists()
