"""`payctl migrate` and `payctl topics`, the one-shot jobs of a deployment, on the suite's real
PostgreSQL and Kafka: they create what is missing, change nothing when run again, wait for a
server that is not up yet, and refuse plainly when the settings do not say where to work."""

from __future__ import annotations

import contextlib
import importlib
import logging
import socket
import threading
import time
import uuid
from typing import TYPE_CHECKING

import psycopg
import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from confluent_kafka.admin import AdminClient
from psycopg.conninfo import conninfo_to_dict

from payctl.cli import main
from payctl.embedded import free_port
from payctl.services import DATABASES, SERVER_VARIABLES, database_url_on
from payment_events.catalog import all_topic_names

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from click.testing import Result

    from payctl.embedded import EmbeddedPostgres

pytestmark = pytest.mark.integration

# Every variable that points payctl at servers, unset unless a test gives it: the jobs must work
# from what the test says, not from the environment the suite runs in.
NO_SERVERS: dict[str, str | None] = dict.fromkeys(SERVER_VARIABLES)
# The catalog topics on the suite's broker are created with 3 partitions by whichever test comes
# first (bff_processes, the order-consumer's tests); existing topics keep theirs, so this test
# asks for the same number.
PARTITIONS = 3


@pytest.fixture(autouse=True)
def _logging_kept() -> Iterator[None]:
    # The jobs configure logging on the stream CliRunner lends them, closed once they return.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers, root.level = handlers, level


def payctl(args: list[str], env: Mapping[str, str | None]) -> Result:
    return CliRunner().invoke(main, args, env={**NO_SERVERS, **env})


def revision(url: str) -> str | None:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return None if row is None else str(row[0])


def head(package: str) -> str | None:
    return ScriptDirectory(str(importlib.import_module(package).MIGRATIONS)).get_current_head()


def empty_database(postgres: EmbeddedPostgres) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres.admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return postgres.url(name)


def test_migrate_creates_and_migrates_every_database_on_the_server(
    postgres: EmbeddedPostgres,
) -> None:
    env = {"DATABASE_URL": postgres.admin_url}
    first = payctl(["migrate", "--wait", "10"], env)
    assert first.exit_code == 0, first.output
    again = payctl(["migrate", "--wait", "10"], env)
    assert again.exit_code == 0, again.output
    for db in DATABASES:
        url = database_url_on(postgres.admin_url, db.name)
        assert revision(url) == head(db.package), db.name


def test_migrate_takes_each_services_own_database_as_it_is(postgres: EmbeddedPostgres) -> None:
    urls = {db.env_var: empty_database(postgres) for db in DATABASES}
    result = payctl(["migrate", "--wait", "10"], urls)
    assert result.exit_code == 0, result.output
    for db in DATABASES:
        assert revision(urls[db.env_var]) == head(db.package), db.name


def test_migrate_waits_for_a_server_that_comes_up_later(postgres: EmbeddedPostgres) -> None:
    port = free_port()
    began = time.monotonic()
    with _forwarder_after(2.0, port, postgres.admin_url):
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        result = payctl(["migrate", "--wait", "30"], {"DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert time.monotonic() - began >= 2.0  # it was refused at first, and waited


def test_migrate_gives_up_after_its_wait_and_hides_the_password() -> None:
    url = f"postgresql://payments:s3cret@127.0.0.1:{free_port()}/postgres"
    began = time.monotonic()
    result = payctl(["migrate", "--wait", "1"], {"DATABASE_URL": url})
    assert result.exit_code == 1
    assert "did not answer within 1s" in result.output
    assert "s3cret" not in result.output
    assert time.monotonic() - began < 15


def test_migrate_refuses_when_no_setting_says_where_the_databases_are() -> None:
    result = payctl(["migrate"], {})
    assert result.exit_code == 2
    assert "set DATABASE_URL" in result.output
    some = payctl(["migrate"], {"BFF_DATABASE_URL": "postgresql://db/bff"})
    assert some.exit_code == 2
    assert "BILLING_DATABASE_URL" in some.output
    assert "BFF_DATABASE_URL" not in some.output


def test_topics_creates_every_topic_and_its_dead_letter_topic(broker: str) -> None:
    # The session broker is shared: other tests may have created some of these topics already,
    # with partitions of their own, which a run must leave as they are.
    admin = AdminClient({"bootstrap.servers": broker})
    before = {name: len(t.partitions) for name, t in admin.list_topics(timeout=10).topics.items()}
    env = {"KAFKA_BOOTSTRAP_SERVERS": broker}
    args = ["topics", "--partitions", str(PARTITIONS), "--wait", "30"]
    first = payctl(args, env)
    assert first.exit_code == 0, first.output
    again = payctl(args, env)
    assert again.exit_code == 0, again.output
    assert f"0 created with {PARTITIONS} partitions" in again.output
    topics = admin.list_topics(timeout=10).topics
    for name in all_topic_names():
        assert name in topics, name
        assert len(topics[name].partitions) == before.get(name, PARTITIONS), name
    assert any(name.endswith(".dlq") for name in all_topic_names())


def test_topics_gives_up_after_its_wait() -> None:
    result = payctl(
        ["topics", "--wait", "1"], {"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"}
    )
    assert result.exit_code == 1
    assert "did not answer within 1s" in result.output


def test_topics_refuses_without_a_cluster() -> None:
    result = payctl(["topics"], {})
    assert result.exit_code == 2
    assert "set KAFKA_BOOTSTRAP_SERVERS" in result.output


@contextlib.contextmanager
def _forwarder_after(delay: float, port: int, server_url: str) -> Iterator[None]:
    """After `delay` seconds, a TCP listener on `port` that relays each connection to the
    server at `server_url` (its Unix socket): a server that comes up while a job waits."""
    info = conninfo_to_dict(server_url)
    target = f"{info['host']}/.s.PGSQL.{info.get('port') or 5432}"
    stop = threading.Event()
    opened: list[socket.socket] = []

    def relay(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def serve() -> None:
        if stop.wait(delay):
            return
        with socket.create_server(("127.0.0.1", port)) as listener:
            listener.settimeout(0.2)
            while not stop.is_set():
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                upstream = socket.socket(socket.AF_UNIX)
                opened.extend((client, upstream))
                upstream.connect(target)
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=relay, args=(a, b), daemon=True).start()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        yield
    finally:
        stop.set()
        server.join(5)
        for s in opened:
            s.close()
