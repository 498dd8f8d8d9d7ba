"""Where the ops verbs act: the broker and each service's database, read from the same variables
the services read (KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL, <SERVICE>_DATABASE_URL), else the
embedded stack of a data dir (`payctl up`'s defaults)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from payctl.errors import OpsError
from payctl.services import DATABASES, database_url_on

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
# How long a verb waits for the broker before it says it cannot reach it.
BROKER_TIMEOUT_SECONDS = 10.0
ANSWER_POLL_SECONDS = 0.5

# librdkafka logs every failed connection attempt; the verb says it once, in its own words.
_quiet = logging.getLogger("payctl.ops.librdkafka")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False


def embedded_server_url(data_dir: Path) -> str:
    """The `postgres` database of the embedded PostgreSQL of `data_dir` (its Unix socket)."""
    return f"postgresql://postgres:@/postgres?host={(data_dir / 'postgres').resolve()}"


@dataclass(frozen=True)
class Target:
    bootstrap: str
    database_urls: Mapping[str, str]  # database name (bff, billing, ...) -> libpq URL

    @classmethod
    def from_env(cls, env: Mapping[str, str], data_dir: Path) -> Target:
        server = env.get("DATABASE_URL") or embedded_server_url(data_dir)
        urls = {
            db.name: env.get(db.env_var) or database_url_on(server, db.name) for db in DATABASES
        }
        return cls(env.get("KAFKA_BOOTSTRAP_SERVERS") or DEFAULT_BOOTSTRAP, urls)

    def client_config(self, **extra: Any) -> dict[str, Any]:
        return {"bootstrap.servers": self.bootstrap, "logger": _quiet, **extra}

    def admin(self) -> AdminClient:
        """An admin client whose broker has answered; OpsError when it does not. A broker that
        refuses connections is named as soon as librdkafka has tried every bootstrap address
        (ALL_BROKERS_DOWN), not after the whole timeout: a slow broker still gets all of it."""
        refused = threading.Event()

        def on_error(error: KafkaError) -> None:
            if error.code() == KafkaError._ALL_BROKERS_DOWN:
                refused.set()

        admin = AdminClient(self.client_config(error_cb=on_error))
        deadline = time.monotonic() + BROKER_TIMEOUT_SECONDS
        while True:
            try:
                admin.list_topics(timeout=ANSWER_POLL_SECONDS)
                return admin
            except KafkaException as e:
                reason = e.args[0].str()
            admin.poll(0)  # serves error_cb
            if refused.is_set() or time.monotonic() >= deadline:
                raise OpsError(
                    f"cannot reach the broker at {self.bootstrap} ({reason}): is the stack "
                    "running (payctl up), or KAFKA_BOOTSTRAP_SERVERS set to your cluster?"
                ) from None

    def consumer(self, group_id: str, **extra: Any) -> Consumer:
        """A consumer that is only ever assigned partitions: it never joins `group_id`, and
        commits nothing unless asked."""
        return Consumer(
            self.client_config(
                **{
                    "group.id": group_id,
                    "enable.auto.commit": False,
                    "enable.auto.offset.store": False,
                    "isolation.level": "read_committed",
                    **extra,
                }
            )
        )

    def database_url(self, database: str) -> str:
        return self.database_urls[database]

    def connect(self, database: str, *, read_only: bool = True) -> psycopg.Connection[Any]:
        """A connection to one service's database; OpsError naming it when it does not answer."""
        url = self.database_urls[database]
        options = "-c default_transaction_read_only=on" if read_only else ""
        try:
            return psycopg.connect(url, options=options, connect_timeout=10)
        except psycopg.OperationalError as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise OpsError(
                f"cannot reach the {database} database ({first}): is the stack running "
                "(payctl up), or DATABASE_URL / the service's *_DATABASE_URL set?"
            ) from None
