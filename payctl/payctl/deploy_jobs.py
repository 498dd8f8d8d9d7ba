"""`payctl migrate` and `payctl topics`: the one-shot jobs a deployment runs before its services
(a compose job, a Kubernetes Job) against servers of its own. They do what `payctl up` does on
the embedded servers, with the same functions; run again they change nothing. Each waits a
bounded time for its server, so a job started before the server is ready succeeds once it is."""

from __future__ import annotations

import functools
import os
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import click
import psycopg
import structlog
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from payctl.cli_logging import configure_cli_logging
from payctl.databases import prepare_databases
from payctl.errors import StackError
from payctl.ops.command import Refused
from payctl.services import DATABASES
from payctl.stack import create_topics
from payment_events.catalog import all_topic_names

if TYPE_CHECKING:
    from collections.abc import Callable

log = structlog.get_logger()

# Between two tries to reach a server that is not there yet.
RETRY_INTERVAL_SECONDS = 1.0
# One try's own bound, so a server that accepts the connection but does not answer is tried
# again rather than waited on past --wait.
ATTEMPT_TIMEOUT_SECONDS = 5


def _wait_option(f: Callable[..., None]) -> Callable[..., None]:
    return click.option(
        "--wait",
        type=click.FloatRange(min=0),
        default=60.0,
        show_default=True,
        help="Seconds to wait for the server to answer before giving up.",
    )(f)


@click.command()
@_wait_option
def migrate(wait: float) -> None:
    """Create the services' databases and apply their migrations: each service's own database
    URL variable (BFF_DATABASE_URL, BILLING_DATABASE_URL, ...) when set, else a database created
    on the DATABASE_URL server when missing. Exits 2 when neither says where a database is, 1
    when a server does not answer within --wait or a migration fails."""
    configure_cli_logging()
    env = dict(os.environ)
    unset = [db.env_var for db in DATABASES if not env.get(db.env_var)]
    if unset and not env.get("DATABASE_URL"):
        raise Refused(
            "set DATABASE_URL (a PostgreSQL server where the databases are created) or each "
            f"service's database URL: {', '.join(unset)} unset"
        )
    servers = {env.get(db.env_var) or env["DATABASE_URL"] for db in DATABASES}
    for url in sorted(servers):
        _wait_until(_where(url), functools.partial(_postgres_answers, url), psycopg.Error, wait)
    try:
        urls = prepare_databases(env)
    except StackError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"databases migrated: {', '.join(urls)}")


@click.command()
@click.option(
    "--partitions",
    type=click.IntRange(min=1),
    default=6,
    show_default=True,
    help="Of each topic created now; existing topics keep theirs. The partitions bound how many "
    "instances of a consumer share its work.",
)
@click.option(
    "--replication-factor",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Replicas of each topic created now (at most the brokers in the cluster).",
)
@_wait_option
def topics(partitions: int, replication_factor: int, wait: float) -> None:
    """Create every catalog topic and its dead-letter topic (.dlq) that is missing on
    KAFKA_BOOTSTRAP_SERVERS. Exits 2 when it is unset, 1 when the cluster does not answer within
    --wait or refuses a topic."""
    configure_cli_logging()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        raise Refused("set KAFKA_BOOTSTRAP_SERVERS to the Kafka cluster the topics belong on")
    existing: set[str] = set()
    _wait_until(bootstrap, lambda: existing.update(_topics_on(bootstrap)), KafkaException, wait)
    try:
        create_topics(bootstrap, partitions, replication_factor)
    except StackError as e:
        raise click.ClickException(str(e)) from None
    created = [t for t in all_topic_names() if t not in existing]
    click.echo(
        f"topics: {len(created)} created with {partitions} partitions and replication factor "
        f"{replication_factor}, {len(all_topic_names()) - len(created)} already there"
    )


def _wait_until(
    what: str, answers: Callable[[], None], unreachable: type[Exception], wait: float
) -> None:
    """Tries `answers` until it returns; an `unreachable` error means try again, until `wait`
    seconds have passed (at least one try)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            answers()
            return
        except unreachable as e:
            # Only its text is kept: the error would keep the failed client (and the threads
            # librdkafka runs for it, retrying) alive as long as the exception raised below.
            reason = str(e)
        if time.monotonic() >= deadline:
            raise click.ClickException(f"{what} did not answer within {wait:g}s: {reason}")
        log.info("waiting_for_server", server=what, reason=reason)
        time.sleep(RETRY_INTERVAL_SECONDS)


def _postgres_answers(url: str) -> None:
    with psycopg.connect(url, connect_timeout=ATTEMPT_TIMEOUT_SECONDS) as conn:
        conn.execute("SELECT 1")


def _topics_on(bootstrap: str) -> set[str]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    return set(admin.list_topics(timeout=ATTEMPT_TIMEOUT_SECONDS).topics)


def _where(url: str) -> str:
    """A database URL without its password, fit for a log line or an error message."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}@{host}"))
