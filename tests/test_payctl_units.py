"""payctl without servers: tokens, database URLs, and the refusals that come before anything
starts."""

from __future__ import annotations

import dataclasses
import socket
from typing import TYPE_CHECKING, Any, ClassVar

import jwt
import pytest
from click.testing import CliRunner

from bff.auth import verify_token
from payctl.audit import AuditReport, Violation
from payctl.chaos import ChaosRun
from payctl.cli import main
from payctl.embedded import free_ports
from payctl.errors import StackError
from payctl.kafka_broker import kafka_uuid
from payctl.load import LoadResult
from payctl.services import DEFAULT_HEALTH_PORTS, database_url_on
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
    bff, psp, saas, kafka, *health = free_ports(4 + len(DEFAULT_HEALTH_PORTS))
    config = StackConfig(
        data_dir=data_dir,
        bff_port=bff,
        psp_port=psp,
        saas_port=saas,
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


def test_drills_on_servers_the_stack_does_not_embed_are_refused(tmp_path: Path) -> None:
    stack = stack_in(tmp_path)  # never started: it embeds nothing

    with pytest.raises(StackError, match="broker is not embedded"):
        stack.stop_broker()
    with pytest.raises(StackError, match="PostgreSQL is not embedded"):
        stack.start_postgres()


def test_only_a_consumer_runs_as_several_instances(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="psp-sim is not a consumer"):
        stack_in(tmp_path).start_instance("psp-sim", 1)


class _SoakStack:
    """Stands in for the stack `payctl soak` starts."""

    made: ClassVar[list[StackConfig]] = []

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.made.append(config)
        self.stopped = False

    def start(self) -> None:
        pass

    def stop(self) -> None:
        self.stopped = True


def test_soak_exits_with_1_and_prints_the_violations(monkeypatch: pytest.MonkeyPatch) -> None:
    violation = Violation("provider", "pay_1", "payment order po_1 captured 2 times")
    report = AuditReport(payments=3, statuses={"CAPTURED": 3}, messages=12, copies=0)

    def run_chaos(stack: Any, **options: Any) -> ChaosRun:
        assert options["payments"] == 3
        assert options["seed"] == 7
        return ChaosRun(LoadResult(), [], 1.0, 2.0, report, [violation])

    monkeypatch.setattr("payctl.stack_cli.Stack", _SoakStack)
    monkeypatch.setattr("payctl.stack_cli.run_chaos", run_chaos)
    result = CliRunner().invoke(
        main,
        ["soak", "--payments", "3", "--seed", "7", "--data-dir", "soak-data"],
        env={"KAFKA_BOOTSTRAP_SERVERS": "kafka.example:9092", "PSP_LATENCY_MS": "40"},
    )

    assert result.exit_code == 1, result.output
    assert "violations 1" in result.output
    assert "[provider] pay_1: payment order po_1 captured 2 times" in result.output
    [config] = _SoakStack.made
    assert config.fresh
    assert "KAFKA_BOOTSTRAP_SERVERS" not in config.env  # always its own embedded broker
    assert config.env["PSP_LATENCY_MS"] == "40"  # the environment's, over the fast default


def test_a_kafka_cluster_id_never_reads_as_a_command_line_option() -> None:
    # 1 in 64 URL-safe base64 ids starts with "-": the storage format then refused the argument.
    made = [kafka_uuid() for _ in range(2000)]
    assert not any(m.startswith("-") for m in made)
    assert all(len(m) == 22 for m in made)
